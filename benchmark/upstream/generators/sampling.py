"""``sample(generator, n, label, cluster)``: targeted or (``None``) untargeted generation with a
fast sampler and classifier-free guidance; every item carries its provenance in ``meta``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

from benchmark import hardware
from benchmark.upstream.generators.denoisers import predict
from benchmark.upstream.generators.model import Generator

SAMPLERS = {"ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler}


def _condition(value: int | np.ndarray | None, n: int, null: int) -> torch.Tensor:
    """A per-item condition; ``None`` is the null token (untargeted)."""
    arr = np.full(n, null) if value is None else np.broadcast_to(np.asarray(value), (n,))
    return torch.as_tensor(np.array(arr), dtype=torch.long)


@torch.no_grad()
def sample(gen: Generator, n: int, label: int | np.ndarray | None = None,
           cluster: int | np.ndarray | None = None, sampler: str = "ddim", steps: int = 25,
           guidance: float = 2.0, seed: int = 0, batch_size: int = 256
           ) -> tuple[np.ndarray, dict[str, Any]]:
    """``n`` items in data units (float32) and their ``meta`` columns.

    Guidance mixes conditional and null predictions, ``out = out_null + w (out_cond - out_null)``
    (Ho & Salimans 2022; noise or velocity, whichever the scheduler's ``prediction_type``
    names); with no target at all it is a plain unconditional pass. It runs on the process's
    device (``benchmark.hardware``); the starting noise is drawn on the host from ``seed``, so
    every device starts from the same noise.
    """
    on = hardware.device()
    labels = _condition(label, n, gen.n_classes)
    clusters = _condition(cluster, n, gen.k)
    sched = SAMPLERS[sampler].from_config(gen.scheduler.config)
    gen.denoiser.to(on).eval()
    rng = torch.Generator().manual_seed(seed)
    parts = [_denoise(gen, sched, labels[i:i + batch_size], clusters[i:i + batch_size], steps,
                      guidance, rng, on).cpu().numpy() for i in range(0, n, batch_size)]
    x = gen.unscale(np.concatenate(parts)) if parts else np.zeros((0, *gen.shape), np.float32)
    targeted = label is not None or cluster is not None
    meta = {"synthetic": np.ones(n, bool), "target_label": _meta(label, n),
            "target_cluster": _meta(cluster, n), "sampler": np.full(n, sampler),
            "steps": np.full(n, steps), "guidance": np.full(n, guidance if targeted else 0.0)}
    return x, meta


def _meta(value: int | np.ndarray | None, n: int) -> np.ndarray:
    """-1 marks "not targeted" in the provenance columns."""
    return np.full(n, -1) if value is None else np.broadcast_to(np.asarray(value), (n,)).copy()


def _denoise(gen: Generator, sched: Any, labels: torch.Tensor, clusters: torch.Tensor,
             steps: int, guidance: float, rng: torch.Generator, on: str = "cpu"
             ) -> torch.Tensor:
    """One batch's items, scaled, on device ``on`` (the conditions and noise come from the
    host: whether to guide is decided there, without waiting on the device)."""
    guided = bool((labels != gen.n_classes).any() or (clusters != gen.k).any()) and guidance != 1
    labels, clusters = labels.to(on), clusters.to(on)
    sched.set_timesteps(steps)  # on the host: the scheduler indexes its tables with them
    x = torch.randn((len(labels), *gen.shape), generator=rng).to(on) * sched.init_noise_sigma
    null_l, null_c = torch.full_like(labels, gen.n_classes), torch.full_like(clusters, gen.k)
    for t in sched.timesteps:
        model_in = sched.scale_model_input(x, t)
        if guided:
            both = predict(gen.denoiser, torch.cat([model_in, model_in]), t,
                           torch.cat([labels, null_l]), torch.cat([clusters, null_c]),
                           gen.n_classes, gen.k)
            cond, free = both.chunk(2)
            out = free + guidance * (cond - free)
        else:
            out = predict(gen.denoiser, model_in, t, labels, clusters, gen.n_classes, gen.k)
        x = sched.step(out, t, x).prev_sample
    if gen.static:  # one value per item in channels that are constant along time
        idx = list(gen.static)
        value = x[:, idx].mean(dim=-1)
        if gen.levels is not None:  # the nearest value seen in training (e.g. a known site)
            levels = torch.as_tensor(gen.levels, device=on)
            value = levels[torch.cdist(value, levels).argmin(dim=1)]
        x[:, idx] = value[:, :, None].expand(-1, -1, x.shape[-1])
    return x
