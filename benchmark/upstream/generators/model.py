"""A generator = denoiser + noise schedule + the data scaling, saved as one folder:
``denoiser/`` and ``scheduler/`` (``save_pretrained``) and ``generator.json``.

The schedule is built for tiny items: ``squaredcos_cap_v2`` (Nichol & Dhariwal 2021: the
linear schedule of 256 px images destroys a 16 x 16 image or a 64-step sequence long before the
last timestep, wasting most of them) with ``v_prediction`` and ``trailing`` timestep spacing, so
a 25-step sampler starts from the pure-noise end of the schedule (Lin et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler
from torch import nn

from benchmark import modalities
from benchmark.io import DataFormatError, atomic_write_json, read_json
from benchmark.upstream.generators import denoisers

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
    static: tuple[int, ...] = ()
    """Sequence channels constant along time in every training item (e.g. a site's coordinates):
    sampled items get one value per item there, the time mean of what the denoiser produced,
    snapped to the nearest of ``levels`` when the training items hold few distinct values."""
    levels: np.ndarray | None = None
    """The distinct values of the ``static`` channels in training, scaled (rows: items)."""

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
            "k": self.k, "mean": self.mean.ravel().tolist(), "std": self.std.ravel().tolist(),
            "static": list(self.static),
            "levels": None if self.levels is None else self.levels.tolist()})


def _stats(x: np.ndarray, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (image, sequence) or per feature (tabular) mean and std, broadcastable."""
    axes = modalities.modality(modality).stat_axes
    mean, std = x.mean(axis=axes, keepdims=True), x.std(axis=axes, keepdims=True)
    return mean[0], np.maximum(std[0], 1e-6)


MAX_LEVELS = 256  # more distinct static values than this: a continuous covariate, not snapped


def _static(x: np.ndarray, modality: str) -> tuple[tuple[int, ...], np.ndarray | None]:
    """Sequence channels whose every training item is constant along time, and their distinct
    values (``x`` scaled) when there are at most ``MAX_LEVELS`` of them.
    """
    if not modalities.modality(modality).static_channels:
        return (), None
    spread = np.ptp(x, axis=2).max(axis=0)  # per channel: the largest within-item range
    scale = np.maximum(np.abs(x).max(axis=(0, 2)), 1.0)
    static = tuple(int(c) for c in np.flatnonzero(spread <= 1e-5 * scale))
    if not static:
        return (), None
    levels = np.unique(np.round(x[:, list(static), 0], 5), axis=0)
    return static, (levels.astype(np.float32) if len(levels) <= MAX_LEVELS else None)


def build(modality: str, x: np.ndarray, n_classes: int, k: int, channels: list[int],
          width: int, timesteps: int, prediction: str = "v_prediction",
          schedule: str = "squaredcos_cap_v2", seed: int = 0) -> Generator:
    """A fresh generator whose scaling is fitted on the training inputs ``x``; ``prediction``
    and ``schedule`` are the scheduler's ``prediction_type`` and ``beta_schedule``; ``seed``
    fixes the initial weights (without touching the global random state).
    """
    mean, std = _stats(x.astype(np.float64), modality)
    shape = tuple(x.shape[1:])
    scheduler = DDPMScheduler(num_train_timesteps=timesteps, clip_sample_range=CLIP,
                              prediction_type=prediction, beta_schedule=schedule,
                              timestep_spacing="trailing")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        denoiser = denoisers.build(modality, shape, n_classes, k, channels, width)
    gen = Generator(modality, shape, n_classes, k, denoiser, scheduler,
                    mean.astype(np.float32), std.astype(np.float32))
    gen.static, gen.levels = _static(gen.scale(x), modality)
    return gen


def load(folder: str | Path) -> Generator:
    """A generator saved by ``Generator.save``; a damaged folder names itself in one line."""
    folder = Path(folder)
    card = read_json(folder / CARD, "dvc repro generator")
    try:
        return _load(folder, card)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        raise DataFormatError(f"{folder}: not a readable generator ({type(err).__name__}: "
                              f"{str(err).splitlines()[0][:200] if str(err) else ''}); rebuild "
                              "it with `dvc repro generator`") from None


def _load(folder: Path, card: dict) -> Generator:
    shape = tuple(card["shape"])
    axes = modalities.modality(card["modality"]).stat_axes  # the item axes that were pooled
    stat_shape = tuple(1 if i + 1 in axes else n for i, n in enumerate(shape))
    return Generator(card["modality"], shape, card["n_classes"], card["k"],
                     denoisers.load(card["modality"], str(folder / "denoiser")).eval(),
                     DDPMScheduler.from_pretrained(folder / "scheduler"),
                     np.asarray(card["mean"], np.float32).reshape(stat_shape),
                     np.asarray(card["std"], np.float32).reshape(stat_shape),
                     tuple(card.get("static", ())),
                     None if card.get("levels") is None else np.asarray(card["levels"], np.float32))
