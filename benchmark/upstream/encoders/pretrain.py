"""Self-supervised pretraining of any encoder family with Lightning: a fixed number of steps of
masked reconstruction on unlabelled items, sampled with replacement (like the downstream recipe,
so the compute does not grow with the pool). The items live on the process's device and each
batch is sliced from them at once, and the losses stay there until the fit ends: no per-item
fetch and collate and no wait on the device per step.
"""

from __future__ import annotations

import tempfile
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from transformers import PreTrainedModel

from benchmark import hardware
from benchmark.config import PretrainFitParams
from benchmark.progress import log_every, logs_step, trainer_progress
from benchmark.upstream.encoders import family


class MaskedPretraining(pl.LightningModule):
    """Wraps a ``transformers`` pretraining model; the model computes its own masked loss."""

    def __init__(self, model: PreTrainedModel, modality: str, lr: float, weight_decay: float,
                 steps: int) -> None:
        super().__init__()
        self.model, self.modality = model, modality
        self.lr, self.weight_decay, self.steps = lr, weight_decay, steps
        self.losses: list[torch.Tensor] = []  # on the device: read once, after the fit

    def training_step(self, batch: tuple[torch.Tensor], _: int) -> torch.Tensor:
        loss = family(self.modality).loss(self.model, batch[0])
        self.losses.append(loss.detach())
        if logs_step(self.global_step, self.steps):
            self.log("pretrain/loss", loss, on_step=True, on_epoch=False)
        return loss

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr,
                                weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=self.steps,
                                                    pct_start=0.1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def pretrain(model: PreTrainedModel, modality: str, x: np.ndarray, params: PretrainFitParams,
             logger: Any = None, name: str = "pretrain") -> list[float]:
    """Train ``model`` in place for the modality's ``params.steps`` on ``x``; returns the loss
    per step. Progress: Lightning's bar on a terminal, else a line named ``name`` every tenth of
    the steps.
    """
    pl.seed_everything(params.seed, workers=True, verbose=False)
    steps = params.steps.of(modality)
    module = MaskedPretraining(model, modality, params.lr, params.weight_decay, steps)
    batches = hardware.batches((x.astype(np.float32, copy=False),), params.batch_size, steps,
                               params.seed)
    with tempfile.TemporaryDirectory(prefix="pretrain-") as tmp:
        trainer = pl.Trainer(
            max_steps=steps, **hardware.trainer_args(),
            logger=logger if logger is not None else False, enable_checkpointing=False,
            enable_model_summary=False, deterministic=True,
            **trainer_progress(name, steps, lines=10),
            log_every_n_steps=log_every(steps), default_root_dir=tmp,
        )
        trainer.fit(module, batches)
    model.cpu().eval()  # saved and embedded from here; embed() moves it where it runs
    return torch.stack(module.losses).tolist()
