"""Synthetic-sample budget across clusters for the adaptive method: deficit x weakness.

    priority_c = (max(deficit_c, 0) + eps) ** (1 - tradeoff) * (weakness_c + eps) ** tradeoff
    n_c        = budget * priority_c / sum(priority)   (largest-remainder rounding)

``deficit_c`` is pool share - D share (``benchmark.upstream.patterns.deficit``), ``weakness_c`` the
committee error on ``val`` in the cluster; ``tradeoff`` = 0 fills gaps only, 1 follows errors
only, 0.5 is the geometric mean. ``eps`` keeps every cluster reachable and the sum positive.
"""

from __future__ import annotations

import numpy as np


def allocate(budget: int, deficit: np.ndarray, weakness: np.ndarray, tradeoff: float = 0.5,
             eps: float = 1e-3, scale: np.ndarray | None = None) -> np.ndarray:
    """Integer samples per cluster, summing to ``budget``; ``scale`` (>= 0, per cluster)
    multiplies the priorities, e.g. a fairness boost or 0 for a cluster the generator fails on.
    """
    if not 0.0 <= tradeoff <= 1.0:
        raise ValueError(f"tradeoff: got {tradeoff!r}, expected a weight in [0, 1]")
    weak = np.nan_to_num(np.asarray(weakness, float), nan=0.0)
    priority = ((np.maximum(np.asarray(deficit, float), 0.0) + eps) ** (1 - tradeoff)
                * (np.maximum(weak, 0.0) + eps) ** tradeoff)
    if scale is not None:
        priority = priority * np.maximum(np.asarray(scale, float), 0.0)
    if priority.sum() <= 0:
        return np.zeros(len(priority), dtype=int)
    share = budget * priority / priority.sum()
    counts = np.floor(share).astype(int)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:budget - counts.sum()]] += 1
    return counts
