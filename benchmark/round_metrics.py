"""Per-round metrics of the dataset under construction, the same for every method: functions
``(dataset, ctx) -> float`` in a registry, logged as ``round/<name>`` (W&B, construction.json,
the per-cell DVC plot). They use only what every method may see (D, ``val``, the encoder).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark.data import Split
from benchmark.registry import Registry

RoundMetric = Callable[[Split, Any], float]
ROUND_METRICS: Registry[RoundMetric] = Registry("round metric")


@ROUND_METRICS.register("probe_val_acc")
def probe_val_acc(dataset: Split, ctx: Any) -> float:
    """``val`` accuracy of a linear probe fitted on D's embeddings: a cheap, method-independent
    reading of how much the round's additions taught.
    """
    from benchmark.patterns import linear_probe

    res = ctx.resources
    z = res.embed_items(dataset.meta["item"], dataset.x)
    if len(np.unique(dataset.y)) < 2:
        return float((ctx.val.y == dataset.y[0]).mean())
    return linear_probe(z, dataset.y, res.embeddings["val"], ctx.val.y, seed=ctx.seed)


@ROUND_METRICS.register("cluster_entropy")
def cluster_entropy(dataset: Split, ctx: Any) -> float:
    """Normalised entropy H / log K of D's occupancy of the frozen pattern clusters (1 = even)."""
    res = ctx.resources
    found = res.patterns
    labels = found.assign(res.embed_items(dataset.meta["item"], dataset.x))
    p = np.bincount(labels, minlength=found.k) / max(len(labels), 1)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / np.log(found.k))


def round_metrics(dataset: Split, ctx: Any) -> dict[str, float]:
    """Every registered round metric (none without the domain's resources)."""
    if ctx.resources is None:
        return {}
    return {name: float(ROUND_METRICS.get(name)(dataset, ctx)) for name in ROUND_METRICS.names()}
