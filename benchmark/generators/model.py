"""A generator = denoiser + noise schedule + the data scaling, saved as one folder:
``denoiser/`` and ``scheduler/`` (``save_pretrained``) and ``generator.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from diffusers import DDPMScheduler
from torch import nn

from benchmark.generators import denoisers
from benchmark.io import atomic_write_json

CARD = "generator.json"
# The schedulers clip the predicted clean sample; data are standardised, so +-1 (the default)
# would flatten every tail: keep items within 5 standard deviations instead.
CLIP = 5.0


@dataclass
class Generator:
    """Everything sampling needs; ``mean`` / ``std`` undo the per-channel standardisation."""

    modality: str
    shape: tuple[int, ...]
    n_classes: int
    k: int
    denoiser: nn.Module
    scheduler: DDPMScheduler
    mean: np.ndarray
    std: np.ndarray

    def scale(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def unscale(self, x: np.ndarray) -> np.ndarray:
        return (x * self.std + self.mean).astype(np.float32)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.denoiser.save_pretrained(folder / "denoiser")
        self.scheduler.save_pretrained(folder / "scheduler")
        atomic_write_json(folder / CARD, {
            "modality": self.modality, "shape": list(self.shape), "n_classes": self.n_classes,
            "k": self.k, "mean": self.mean.ravel().tolist(), "std": self.std.ravel().tolist()})


def _stats(x: np.ndarray, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (image, sequence) or per feature (tabular) mean and std, broadcastable."""
    axes = (0, 2, 3) if modality == "image" else (0, 2) if modality == "sequence" else (0,)
    mean, std = x.mean(axis=axes, keepdims=True), x.std(axis=axes, keepdims=True)
    return mean[0], np.maximum(std[0], 1e-6)


def build(modality: str, x: np.ndarray, n_classes: int, k: int, channels: list[int],
          width: int, timesteps: int) -> Generator:
    """A fresh generator whose scaling is fitted on the training inputs ``x``."""
    mean, std = _stats(x.astype(np.float64), modality)
    shape = tuple(x.shape[1:])
    scheduler = DDPMScheduler(num_train_timesteps=timesteps, clip_sample_range=CLIP)
    return Generator(modality, shape, n_classes, k,
                     denoisers.build(modality, shape, n_classes, k, channels, width), scheduler,
                     mean.astype(np.float32), std.astype(np.float32))


def load(folder: str | Path) -> Generator:
    folder = Path(folder)
    card = json.loads((folder / CARD).read_text())
    shape = tuple(card["shape"])
    stat_shape = (shape[0], 1, 1) if card["modality"] == "image" else (
        (shape[0], 1) if card["modality"] == "sequence" else shape)
    return Generator(card["modality"], shape, card["n_classes"], card["k"],
                     denoisers.load(card["modality"], str(folder / "denoiser")).eval(),
                     DDPMScheduler.from_pretrained(folder / "scheduler"),
                     np.asarray(card["mean"], np.float32).reshape(stat_shape),
                     np.asarray(card["std"], np.float32).reshape(stat_shape))
