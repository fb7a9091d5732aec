"""Seed-level confidence intervals against scipy and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchmark.evaluation.metrics.stats import cost_saved, cost_to_reach, mean_ci, paired_diff


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


def test_cost_to_reach_interpolates_the_first_crossing() -> None:
    costs, accs = [0, 100, 200, 300], [0.5, 0.7, 0.9, 0.85]
    assert cost_to_reach(costs, accs, 0.8) == pytest.approx(150.0)
    assert cost_to_reach(costs, accs, 0.4) == 0.0
    assert cost_to_reach(costs, accs, 0.95) == math.inf


def _curve(accs: list[float]) -> tuple[list[float], list[float]]:
    return [0.0, 100.0, 200.0, 300.0], accs


def test_cost_saved_on_a_hand_made_curve() -> None:
    # scale_only reaches 0.8 with its full 300; the method gets there at 150: half the cost
    method = {0: _curve([0.5, 0.7, 0.9, 0.95])}
    reference = {0: _curve([0.5, 0.6, 0.7, 0.8])}
    res = cost_saved(method, reference)
    assert res["saved"] == pytest.approx(0.5) and res["n"] == 1
    assert math.isnan(res["lo"]) and math.isnan(res["hi"])


def test_cost_saved_over_seeds_is_paired_and_order_free() -> None:
    method = {s: _curve([0.5, 0.7 + 0.02 * s, 0.9, 0.95]) for s in range(4)}
    reference = {s: _curve([0.5, 0.6, 0.7, 0.8 - 0.01 * s]) for s in range(4)}
    res = cost_saved(method, reference, resamples=300)
    # the seed-averaged curve (0.73 at 100, 0.9 at 200) reaches the mean target 0.785 at 132.35
    assert res["saved"] == pytest.approx(1 - (100 + 0.055 / 0.17 * 100) / 300)
    assert res["lo"] <= res["saved"] <= res["hi"] and res["reached"] == 1.0
    shuffled = cost_saved(dict(reversed(list(method.items()))), reference, resamples=300)
    assert shuffled == res


def test_cost_saved_never_reached_is_minus_inf() -> None:
    res = cost_saved({0: _curve([0.5, 0.55, 0.6, 0.65])}, {0: _curve([0.5, 0.6, 0.7, 0.8])})
    assert res["saved"] == -math.inf and res["reached"] == 0.0
