"""A generator's report against held-out real data: targeting accuracy beside chance, PRDC,
Frechet distance beside its real-vs-real floor, and TSTR, all in the domain's encoder space
(the measures themselves: ``benchmark.upstream.generators.measure``). The ``generator`` stage
writes it to ``reports/generators/<domain>.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark.config import GeneratorParams
from benchmark.data import DomainData
from benchmark.upstream import patterns as pt
from benchmark.upstream.generators.measure import Judge

FLOOR_DRAWS = 5  # pairs of real subsamples the Frechet floor averages


def reference_judge(data: DomainData, z: dict[str, np.ndarray], seed: int) -> Judge:
    """The default judge: logistic regression on the ``reference`` embeddings (real, labelled,
    unseen by the generator). Swap in a stronger one through ``evaluate(..., judge=)``.
    """
    from benchmark.upstream.generators import measure

    return measure.embedding_judge(z["reference"], data["reference"].y, seed)


def evaluate(gen: Any, data: DomainData, z: dict[str, np.ndarray], found: pt.Patterns,
             embed: Callable[[np.ndarray], np.ndarray], cfg: GeneratorParams,
             judge: Judge | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Targeting accuracy beside chance, PRDC, Frechet distance and TSTR, all on real held-out
    items (``val``). ``judge(x_raw, z) -> labels`` labels both the targeted samples and the
    ``val`` items behind chance (default: :func:`reference_judge`).
    """
    from benchmark.upstream.generators import sample

    judge = judge if judge is not None else reference_judge(data, z, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    seed_clusters = found.assign(z["seed"])
    pick = rng.integers(0, len(seed_clusters), cfg.eval_samples)  # requests: pairs seen in D
    req_l, req_c = data["seed"].y[pick], seed_clusters[pick]
    kw = {"sampler": cfg.sampler, "steps": cfg.sample_steps, "seed": cfg.seed}
    x_t, _ = sample(gen, cfg.eval_samples, req_l, req_c, guidance=cfg.guidance, **kw)
    x_u, _ = sample(gen, cfg.eval_samples, **kw)
    z_t, z_u = embed(x_t), embed(x_u)
    report: dict[str, Any] = {
        "n_samples": cfg.eval_samples, "sampler": cfg.sampler, "sample_steps": cfg.sample_steps,
        "guidance": cfg.guidance,
        **_targeting_report(judge, data, z, found, (x_t, z_t, req_l, req_c)),
        **_distribution_report(data, z, embed, (x_t, z_t), (x_u, z_u), cfg.seed),
        "tstr": _tstr(z_t, req_l, data, z, cfg.seed)}
    return report, {"targeted": x_t, "untargeted": x_u, "labels": req_l}


def _targeting_report(judge: Judge, data: DomainData, z: dict[str, np.ndarray],
                      found: pt.Patterns, targeted: tuple[np.ndarray, ...]) -> dict[str, Any]:
    """Targeting accuracy and its chance, both judged by ``judge`` (chance: its labels of val)."""
    from benchmark.upstream.generators import measure

    x_t, z_t, req_l, req_c = targeted
    val_l, val_c = np.asarray(judge(data["val"].x, z["val"])), found.assign(z["val"])
    target = measure.targeting(found.assign(z_t) == req_c, np.asarray(judge(x_t, z_t)) == req_l)
    target["chance"] = measure.chance(req_l, req_c, val_l, val_c)
    target["label_chance"] = measure.chance(req_l, np.zeros_like(req_c), val_l,
                                            np.zeros_like(val_c))
    return {"annotator/val_acc": float(np.mean(val_l == data["val"].y)), "targeting": target}


def _distribution_report(data: DomainData, z: dict[str, np.ndarray],
                         embed: Callable[[np.ndarray], np.ndarray],
                         targeted: tuple[np.ndarray, np.ndarray],
                         untargeted: tuple[np.ndarray, np.ndarray], seed: int) -> dict[str, Any]:
    """PRDC and Frechet distance against seeded random subsamples of val, beside the same
    measures between val and ``reference`` subsamples (the real-vs-real floor); every set has
    the same size, since both measures depend on it. The Frechet floor is the mean over
    :data:`FLOOR_DRAWS` independent pairs of subsamples (``frechet_real_sd``: their spread):
    at a hundred items one draw of it varies by a third.
    """
    from benchmark.upstream.generators import measure

    (x_t, z_t), (x_u, z_u) = targeted, untargeted
    n = min(len(x_u), len(x_t), len(data["val"]), len(data["reference"]))
    v = measure.subsample(len(data["val"]), n, seed, stream=2)
    r = measure.subsample(len(data["reference"]), n, seed, stream=3)
    x_val, z_val, dim = data["val"].x[v], z["val"][v], z_u.shape[1]
    return {"n_real": n,
            "prdc": measure.prdc(z_val, z_u[:n], k=5),
            "prdc_targeted": measure.prdc(z_val, z_t[:n], k=5),
            "prdc_real": measure.prdc(z_val, z["reference"][r], k=5),
            "frechet": measure.frechet(embed, dim, x_val, x_u[:n]),
            **_frechet_floor(data, embed, dim, n, seed)}


def _frechet_floor(data: DomainData, embed: Callable[[np.ndarray], np.ndarray], dim: int,
                   n: int, seed: int) -> dict[str, float]:
    """Frechet distance between ``n`` val and ``n`` reference items, over independent draws."""
    from benchmark.upstream.generators import measure

    draws = [measure.frechet(
        embed, dim, data["val"].x[measure.subsample(len(data["val"]), n, seed, 2 * i + 10)],
        data["reference"].x[measure.subsample(len(data["reference"]), n, seed, 2 * i + 11)])
        for i in range(FLOOR_DRAWS)]
    return {"frechet_real": float(np.mean(draws)), "frechet_real_sd": float(np.std(draws))}


def _tstr(z_t: np.ndarray, req_l: np.ndarray, data: DomainData, z: dict[str, np.ndarray],
          seed: int) -> dict[str, float]:
    """Probe trained on the targeted samples vs on as many real seed items, tested on val."""
    from benchmark.upstream.generators import measure

    return measure.tstr(z_t, req_l, z["seed"], data["seed"].y, z["val"], data["val"].y, seed)
