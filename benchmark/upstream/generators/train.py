"""The shared conditional-diffusion training recipe (a Lightning module for every modality).

Conditions are dropped to their null token independently with probability ``drop`` so one
network learns conditional and unconditional predictions (classifier-free guidance). The target
is whatever the scheduler's ``prediction_type`` names (noise, or velocity
``v = sqrt(a) eps - sqrt(1 - a) x0``, Salimans & Ho 2022); ``snr_gamma`` > 0 weights each item's
loss by min-SNR-gamma (Hang et al. 2023, ``diffusers.training_utils.compute_snr``), and ``ema``
> 0 keeps an exponential moving average of the weights (``diffusers.training_utils.EMAModel``,
warm-up ``1 - (1 + step) ** -3/4`` capped at ``ema``) that replaces them when training ends.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as L
import numpy as np
import torch
from diffusers.training_utils import EMAModel, compute_snr
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from benchmark import hardware
from benchmark.progress import trainer_progress
from benchmark.upstream.generators.denoisers import predict
from benchmark.upstream.generators.model import Generator


class ConditionalDDPM(L.LightningModule):
    """Noise- or velocity-prediction loss at a uniformly drawn DDPM timestep."""

    def __init__(self, gen: Generator, lr: float, drop: float, snr_gamma: float = 0.0,
                 ema: float = 0.0) -> None:
        super().__init__()
        self.gen, self.lr, self.drop, self.snr_gamma = gen, lr, drop, snr_gamma
        self.denoiser = gen.denoiser
        self.ema = (EMAModel(self.denoiser.parameters(), decay=ema, use_ema_warmup=True,
                             power=3 / 4) if ema > 0 else None)
        self.losses: list[torch.Tensor] = []  # on the device: read once, after the fit

    def _null(self, cond: torch.Tensor, null: int) -> torch.Tensor:
        keep = torch.rand(len(cond), device=cond.device) >= self.drop
        return torch.where(keep, cond, torch.full_like(cond, null))

    def training_step(self, batch: list[torch.Tensor], _: int) -> torch.Tensor:
        x, label, cluster = batch
        noise = torch.randn_like(x)
        sched = self.gen.scheduler
        t = torch.randint(0, sched.config.num_train_timesteps, (len(x),), device=x.device)
        noisy = sched.add_noise(x, noise, t)
        out = predict(self.denoiser, noisy, t, self._null(label, self.gen.n_classes),
                      self._null(cluster, self.gen.k), self.gen.n_classes, self.gen.k)
        velocity = sched.config.prediction_type == "v_prediction"
        target = sched.get_velocity(x, noise, t) if velocity else noise
        per_item = (out - target).pow(2).flatten(1).mean(1)
        if self.snr_gamma > 0:
            snr = compute_snr(sched, t)
            weight = snr.clamp(max=self.snr_gamma) / (snr + 1 if velocity else snr)
            per_item = per_item * weight
        loss = per_item.mean()
        self.losses.append(loss.detach())
        return loss

    def on_train_start(self) -> None:
        if self.ema is not None:  # not a module: Lightning moved the weights, not their average
            self.ema.to(self.device)

    def on_train_batch_end(self, *_: Any) -> None:
        if self.ema is not None:
            self.ema.step(self.denoiser.parameters())

    def on_train_end(self) -> None:
        if self.ema is not None:
            self.ema.copy_to(self.denoiser.parameters())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.denoiser.parameters(), lr=self.lr)


def fit(gen: Generator, x: np.ndarray, label: np.ndarray, cluster: np.ndarray, steps: int,
        batch_size: int, lr: float, drop: float, seed: int, name: str = "generator",
        snr_gamma: float = 5.0, ema: float = 0.999) -> list[float]:
    """Train ``gen`` in place for ``steps`` optimiser steps; ``label == n_classes`` marks
    unlabelled items (the pool), which still teach the cluster condition. Returns the losses.
    ``snr_gamma`` (0: off) is the min-SNR loss weight's cap and ``ema`` (0: off) the EMA decay
    cap; the EMA weights replace the trained ones at the end.
    Progress: a bar of steps on a terminal (Lightning's would restart at each of the many
    short epochs), else a line named ``name`` every tenth of the steps. The items live on the
    process's device and each batch is sliced from them at once (the batches of a shuffled
    per-item loader, without its per-item fetch and collate).
    """
    L.seed_everything(seed, verbose=False)
    on = hardware.device()
    data = TensorDataset(torch.as_tensor(gen.scale(x)).to(on),
                         torch.as_tensor(label, dtype=torch.long).to(on),
                         torch.as_tensor(cluster, dtype=torch.long).to(on))
    batches = BatchSampler(RandomSampler(data), min(batch_size, len(data)), drop_last=True)
    loader = DataLoader(data, sampler=batches, batch_size=None)
    module = ConditionalDDPM(gen, lr, drop, snr_gamma, ema)
    trainer = L.Trainer(max_steps=steps, **hardware.trainer_args(), logger=False,
                        enable_checkpointing=False, enable_model_summary=False, max_epochs=-1,
                        **trainer_progress(name, steps, lines=10, bar=False))
    trainer.fit(module, loader)
    gen.denoiser.cpu().eval()  # saved and sampled from here; sample() moves it where it runs
    return torch.stack(module.losses).tolist()
