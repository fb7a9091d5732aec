"""The fixed downstream recipe: one small network per modality, trained the same way (steps,
optimiser, schedule, augmentation) whatever dataset a method built; model selection on ``val``.

DataComp's rule — training is fixed, only the data varies — is enforced here by sampling a fixed
number of optimisation steps with replacement, so a bigger dataset buys no extra compute.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import nn

from benchmark import hardware, modalities
from benchmark.config import TrainParams
from benchmark.data import Split
from benchmark.progress import log_every, logs_step, trainer_progress


class Classifier(pl.LightningModule):
    """The downstream classifier; hyper-parameters are saved so a checkpoint rebuilds itself."""

    def __init__(self, modality: str, input_shape: tuple[int, ...], n_classes: int,
                 width: int, lr: float, weight_decay: float, max_steps: int,
                 augment: bool = True) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = modalities.modality(modality).backbone(tuple(input_shape), n_classes, width)
        self.loss = nn.CrossEntropyLoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        x, y = batch
        if self.hparams.augment:
            x = modalities.modality(self.hparams.modality).augment(x)
        loss = self.loss(self(x), y)
        if logs_step(self.global_step, self.hparams.max_steps):
            self.log("train/loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val/loss", self.loss(logits, y), on_epoch=True)
        self.log("val/acc", (logits.argmax(-1) == y).float().mean(), on_epoch=True)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.hparams.max_steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def fit(train: Split, val: Split, modality: str, n_classes: int, params: TrainParams,
        seed: int, checkpoint: str | Path, logger: Any = None, name: str = "fit",
        lines: int = 1) -> Classifier:
    """Train for exactly ``params.max_steps`` steps; keep the checkpoint best on ``val``.
    Progress: Lightning's bar on a terminal, else ``lines`` lines named ``name`` (one at the
    end for a cell, of which there are many; ten for a long fit such as the judge's).
    """
    pl.seed_everything(seed, workers=True, verbose=False)
    torch.set_num_threads(params.threads)
    model = Classifier(modality, train.x.shape[1:], n_classes, params.width, params.lr,
                       params.weight_decay, params.max_steps, params.augment)
    checkpoint = Path(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=checkpoint.parent, prefix=".ckpt-") as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, filename="best", monitor="val/acc",
                                            mode="max", save_top_k=1, save_weights_only=True)
        progress = trainer_progress(name, params.max_steps, lines=lines)
        trainer = pl.Trainer(
            max_steps=params.max_steps, **hardware.trainer_args(),
            logger=logger if logger is not None else False,
            callbacks=[best, *progress["callbacks"]],
            val_check_interval=params.val_every, check_val_every_n_epoch=None,
            num_sanity_val_steps=0, enable_progress_bar=progress["enable_progress_bar"],
            enable_model_summary=False,
            deterministic=True, log_every_n_steps=log_every(params.max_steps),
            default_root_dir=tmp,
        )
        trainer.fit(model, hardware.batches((train.x, train.y), params.batch_size,
                                            params.max_steps, seed),
                    hardware.batches((val.x, val.y), 512, None))
        shutil.copyfile(best.best_model_path, Path(tmp) / "copy.ckpt")
        os.replace(Path(tmp) / "copy.ckpt", checkpoint)
    return Classifier.load_from_checkpoint(checkpoint, map_location="cpu")


@torch.no_grad()
def predict(model: Classifier, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class predictions for ``x``."""
    out = [p.argmax(-1).numpy() for p in _logits(model, x, batch_size)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


@torch.no_grad()
def proba(model: Classifier, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities for ``x`` (softmax of the logits)."""
    return np.concatenate([p.softmax(-1).numpy() for p in _logits(model, x, batch_size)])


def _logits(model: Classifier, x: np.ndarray, batch_size: int) -> list[torch.Tensor]:
    """The logits of ``x`` in batches, computed on this process's device, back on the host."""
    on = hardware.device()
    model.to(on).eval()
    return [model(torch.from_numpy(x[i:i + batch_size]).to(on)).cpu()
            for i in range(0, len(x), batch_size)]
