"""Confidence intervals over seeds, for tables that report mean ± half-width."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, int]:
    """Mean and half-width of the Student-t confidence interval over seeds; half-width is nan
    for n < 2, where the spread is unknown."""
    arr = np.asarray(values, dtype=np.float64)
    n = arr.size
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = float(arr.mean())
    if n < 2:
        return mean, math.nan, n
    sem = float(arr.std(ddof=1)) / math.sqrt(n)
    half_width = float(stats.t.ppf((1.0 + confidence) / 2.0, df=n - 1)) * sem
    return mean, half_width, n


def paired_diff(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, int]:
    """``mean_ci`` of ``a_i - b_i`` over seed pairs, which removes the shared per-seed variance."""
    if len(a) != len(b):
        raise ValueError(f"paired_diff needs equal lengths, got {len(a)} and {len(b)}")
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return mean_ci(diff.tolist(), confidence)


def replicates_needed(sd: float, half_width: float, confidence: float = 0.95,
                      most: int = 10_000) -> float:
    """The fewest paired replicates whose Student-t CI at ``confidence`` has a half-width of at
    most ``half_width`` when the differences spread by ``sd`` (nan when ``sd`` is unknown).
    """
    if not math.isfinite(sd):
        return math.nan
    for n in range(2, most + 1):
        if stats.t.ppf((1.0 + confidence) / 2.0, df=n - 1) * sd / math.sqrt(n) <= half_width:
            return float(n)
    return math.inf


def cost_to_reach(costs: Sequence[float], accs: Sequence[float], target: float) -> float:
    """The annotation cost at which the piecewise-linear curve through ``(costs, accs)`` (cost
    ascending) first reaches ``target``; ``inf`` when it never does within its budget.
    """
    for i, (cost, acc) in enumerate(zip(costs, accs, strict=True)):
        if acc >= target:
            if i == 0:
                return float(cost)
            c0, a0 = costs[i - 1], accs[i - 1]
            return float(c0 + (target - a0) * (cost - c0) / (acc - a0))
    return math.inf


def mean_curve(curves: Sequence[tuple[Sequence[float], Sequence[float]]], grid: np.ndarray
               ) -> np.ndarray:
    """Average of several ``(costs, accs)`` curves, each interpolated on ``grid`` (their costs
    differ by rounding of what a round could buy).
    """
    return np.mean([np.interp(grid, c, a) for c, a in curves], axis=0)


def cost_saved(method: dict[int, tuple[Sequence[float], Sequence[float]]],
               reference: dict[int, tuple[Sequence[float], Sequence[float]]],
               confidence: float = 0.95, resamples: int = 2000, seed: int = 0
               ) -> dict[str, float]:
    """Annotation cost saved by ``method`` against ``reference`` (both: seed -> label-efficiency
    curve): ``1 - C / C_ref``, where ``C_ref`` is what the reference spent in full and ``C`` the
    cost at which the method's seed-averaged curve reaches the reference's seed-averaged final
    accuracy (interpolated). The percentile bootstrap resamples seeds (paired: the same seeds for
    both); a resample in which the method never gets there counts as ``-inf`` saved, and
    ``reached`` is the share of resamples where it does. ``lo`` / ``hi`` are nan for one seed.
    """
    seeds = sorted(set(method) & set(reference))
    if not seeds:
        raise ValueError("cost_saved needs at least one seed shared by both curves")
    top = min(max(method[s][0][-1] for s in seeds), max(reference[s][0][-1] for s in seeds))
    grid = np.unique(np.concatenate([np.asarray(method[s][0], float) for s in seeds]))
    grid = grid[grid <= max(top, grid.min())]

    def saved(sample: Sequence[int]) -> float:
        curve = mean_curve([method[s] for s in sample], grid)
        target = float(np.mean([reference[s][1][-1] for s in sample]))
        spent = float(np.mean([reference[s][0][-1] for s in sample]))
        reached = cost_to_reach(grid.tolist(), curve.tolist(), target)
        return 1.0 - reached / spent if spent > 0 else math.nan

    point = saved(seeds)
    if len(seeds) < 2:
        return {"saved": point, "lo": math.nan, "hi": math.nan, "n": 1,
                "reached": float(point > -math.inf)}
    rng = np.random.default_rng(seed)
    boot = np.array([saved(rng.choice(seeds, size=len(seeds), replace=True).tolist())
                     for _ in range(resamples)])
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha], method="lower")
    return {"saved": point, "lo": float(lo), "hi": float(hi), "n": len(seeds),
            "reached": float(np.isfinite(boot).mean())}
