"""Where a stage computes: ``params.yaml``'s ``hardware`` section, made this process's once.

Each stage calls :func:`configure` after loading its params; from then on every fit
(:func:`trainer_args`, Lightning), embedding, generator sampling and judge call
(:func:`device`) runs on the same accelerator, and nothing else picks one. ``auto`` takes a
GPU when one is visible, else the CPU. ``benchmark.config`` checks only that the name is one
Lightning knows, so a params file is valid on a laptop and on a GPU server alike; presence is
checked here, before a stage writes anything, because Lightning's own complaint is a traceback
from deep inside ``Trainer``.

Cells run in forked workers (``benchmark.stages.run_cells``), which may each use the GPU only
if the parent never initialised CUDA: availability is counted through NVML
(``torch.cuda.device_count``, and ``PYTORCH_NVML_BASED_CUDA_CHECK`` for libraries that ask
``is_available``), and models move to the device inside a cell, never in the parent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmark.config import PARAMS_FILE, ConfigError, HardwareParams

os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # checks that do not poison a fork
# cuBLAS's reproducible workspace for the deterministic fits, in place before a cell's first
# matrix product (an embedding or the judge may run before Lightning, which sets it, starts)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

LIGHTNING = {"cuda": "gpu", "mps": "mps", "cpu": "cpu"}  # a device's Lightning accelerator
_current = HardwareParams()  # until a stage configures its own


def configure(hardware: HardwareParams, key: str = "hardware") -> None:
    """Make ``hardware`` this process's; a ``ConfigError`` naming ``<key>.accelerator`` when
    no device of the kind asked for is visible (``cpu`` and ``auto`` always run).
    """
    global _current
    if _visible(hardware.accelerator) == 0:
        raise ConfigError(f"{PARAMS_FILE}: {key}.accelerator: got {hardware.accelerator!r}, "
                          f"but this machine has no such device; expected 'cpu' or 'auto' here")
    _current = hardware


def current() -> HardwareParams:
    """The hardware this process was configured with (the CPU until a stage says)."""
    return _current


def device(hardware: HardwareParams | None = None) -> str:
    """The torch device computations run on: ``cuda``, ``mps`` or ``cpu``."""
    hw = hardware or _current
    if hw.accelerator in ("gpu", "cuda"):
        return "cuda"
    if hw.accelerator == "auto":
        if _visible("cuda"):
            return "cuda"
        return "mps" if _visible("mps") else "cpu"
    return hw.accelerator


def trainer_args(hardware: HardwareParams | None = None) -> dict[str, Any]:
    """``Trainer`` keyword arguments: the resolved accelerator, one device, the precision."""
    hw = hardware or _current
    return {"accelerator": LIGHTNING[device(hw)], "devices": 1,
            "precision": hw.precision}


def batches(arrays: Sequence[np.ndarray], batch_size: int, steps: int | None, seed: int = 0,
            on: str | None = None) -> Any:
    """A ``DataLoader`` of batches sliced whole from tensors that live on device ``on`` (the
    process's by default; tens of MB at most), so a step copies nothing from the host and
    fetches and collates no item by item. With ``steps``, that many batches drawn with
    replacement from ``seed``; without, one ordered pass. The batches are a per-item loader's
    (``RandomSampler`` / ``SequentialSampler`` in a ``BatchSampler``), item for item.
    """
    import torch
    from torch.utils.data import (
        BatchSampler,
        DataLoader,
        RandomSampler,
        Sampler,
        SequentialSampler,
        TensorDataset,
    )

    data = TensorDataset(*(torch.as_tensor(np.ascontiguousarray(a)).to(on or device())
                           for a in arrays))
    order: Sampler[int] = SequentialSampler(data) if steps is None else RandomSampler(
        data, replacement=True, num_samples=steps * batch_size,
        generator=torch.Generator().manual_seed(seed))
    return DataLoader(data, sampler=BatchSampler(order, batch_size, drop_last=False),
                      batch_size=None)


def _visible(accelerator: str) -> int | None:
    """Devices of that kind this machine shows (None: the kind needs none)."""
    import torch

    if accelerator in ("gpu", "cuda"):
        return torch.cuda.device_count()
    if accelerator == "mps":
        return int(torch.backends.mps.is_available())
    return None
