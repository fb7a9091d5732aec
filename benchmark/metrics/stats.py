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
