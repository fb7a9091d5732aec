"""The shared conditional-DDPM training recipe (a Lightning module for every modality).

Conditions are dropped to their null token independently with probability ``drop`` so one
network learns conditional and unconditional noise predictions (classifier-free guidance).
"""

from __future__ import annotations

import lightning.pytorch as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmark.generators.denoisers import predict
from benchmark.generators.model import Generator
from benchmark.progress import trainer_progress


class ConditionalDDPM(L.LightningModule):
    """Epsilon-prediction loss at a uniformly drawn DDPM timestep."""

    def __init__(self, gen: Generator, lr: float, drop: float) -> None:
        super().__init__()
        self.gen, self.lr, self.drop = gen, lr, drop
        self.denoiser = gen.denoiser
        self.losses: list[float] = []

    def _null(self, cond: torch.Tensor, null: int) -> torch.Tensor:
        keep = torch.rand(len(cond), device=cond.device) >= self.drop
        return torch.where(keep, cond, torch.full_like(cond, null))

    def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
        x, label, cluster = batch
        noise = torch.randn_like(x)
        sched = self.gen.scheduler
        t = torch.randint(0, sched.config.num_train_timesteps, (len(x),), device=x.device)
        noisy = sched.add_noise(x, noise, t)
        eps = predict(self.denoiser, noisy, t, self._null(label, self.gen.n_classes),
                      self._null(cluster, self.gen.k), self.gen.n_classes, self.gen.k)
        loss = torch.nn.functional.mse_loss(eps, noise)
        self.losses.append(float(loss.detach()))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.denoiser.parameters(), lr=self.lr)


def fit(gen: Generator, x: np.ndarray, label: np.ndarray, cluster: np.ndarray, steps: int,
        batch_size: int, lr: float, drop: float, seed: int, name: str = "generator"
        ) -> list[float]:
    """Train ``gen`` in place for ``steps`` optimiser steps; ``label == n_classes`` marks
    unlabelled items (the pool), which still teach the cluster condition. Returns the losses.
    Progress: a bar of steps on a terminal (Lightning's would restart at each of the many
    short epochs), else a line named ``name`` every tenth of the steps.
    """
    L.seed_everything(seed, verbose=False)
    data = TensorDataset(torch.as_tensor(gen.scale(x)), torch.as_tensor(label, dtype=torch.long),
                         torch.as_tensor(cluster, dtype=torch.long))
    loader = DataLoader(data, batch_size=min(batch_size, len(data)), shuffle=True,
                        drop_last=True)
    module = ConditionalDDPM(gen, lr, drop)
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_model_summary=False, max_epochs=-1,
                        **trainer_progress(name, steps, lines=10, bar=False))
    trainer.fit(module, loader)
    gen.denoiser.eval()
    return module.losses
