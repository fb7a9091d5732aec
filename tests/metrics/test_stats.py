"""Seed-level confidence intervals against scipy and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.metrics.stats import mean_ci, paired_diff


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_mean_ci_matches_scipy_t_interval(confidence: float) -> None:
    values = [0.71, 0.74, 0.69, 0.78, 0.73]
    low, high = stats.t.interval(
        confidence, df=len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )
    mean, half_width, n = mean_ci(values, confidence)
    assert n == 5
    assert mean == pytest.approx((low + high) / 2)
    assert half_width == pytest.approx((high - low) / 2)


def test_mean_ci_single_value_has_nan_half_width() -> None:
    mean, half_width, n = mean_ci([0.8])
    assert (mean, n) == (0.8, 1)
    assert math.isnan(half_width)


def test_mean_ci_rejects_empty() -> None:
    with pytest.raises(ValueError):
        mean_ci([])


def test_paired_diff_by_hand() -> None:
    a, b = [0.80, 0.75, 0.90], [0.70, 0.70, 0.80]
    diffs = [0.10, 0.05, 0.10]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 2)
    expected_half_width = 4.302652729911275 * sd / math.sqrt(3)  # t_{0.975, 2}
    got_mean, half_width, n = paired_diff(a, b)
    assert n == 3
    assert got_mean == pytest.approx(mean)
    assert half_width == pytest.approx(expected_half_width)


def test_paired_diff_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        paired_diff([1.0, 2.0], [1.0])
