"""Every registered metric against an independent reference (scikit-learn, fairlearn, by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, f1_score

from benchmark.evaluation.metrics import METRICS, evaluate_split, group_table, shift_gap

CORE = ["acc", "acc_gap", "acc_wg", "dpd", "eod", "f1_macro"]


def random_split(
    n: int, n_classes: int, n_groups: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, noisy predictions and groups; every group holds every class at this size."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes, n))
    return y_true, y_pred, rng.integers(0, n_groups, n)


def metric(
    name: str, y_true: ArrayLike, y_pred: ArrayLike, group: ArrayLike, n_classes: int
) -> float:
    """Look the metric up through the registry, as the pipeline does."""
    return METRICS.get(name)(np.asarray(y_true), np.asarray(y_pred), np.asarray(group), n_classes)


def test_core_metrics_are_registered() -> None:
    assert set(CORE) <= set(METRICS.names())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_classes", [2, 5])
def test_accuracy_and_macro_f1_match_sklearn(seed: int, n_classes: int) -> None:
    y_true, y_pred, group = random_split(200, n_classes, 3, seed)
    labels = list(range(n_classes))
    assert metric("acc", y_true, y_pred, group, n_classes) == pytest.approx(
        accuracy_score(y_true, y_pred)
    )
    assert metric("f1_macro", y_true, y_pred, group, n_classes) == pytest.approx(
        f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)
    )


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        ([0, 1, 1, 0], [0, 1, 2, 0]),  # class 2 predicted but never true
        ([0, 1, 1, 0], [0, 1, 0, 0]),  # class 2 neither true nor predicted
    ],
)
def test_macro_f1_with_absent_class_counts_it_as_zero(y_true: list[int], y_pred: list[int]) -> None:
    expected = f1_score(y_true, y_pred, average="macro", labels=[0, 1, 2], zero_division=0)
    assert metric("f1_macro", y_true, y_pred, [0] * 4, 3) == pytest.approx(expected)


def test_worst_group_accuracy_and_gap_by_hand() -> None:
    y_true = [0, 1, 1, 0, 1, 0, 1]
    y_pred = [0, 1, 0, 1, 1, 0, 1]
    group = [0, 0, 0, 0, 2, 2, 2]  # group 0: 2/4 correct, group 2: 3/3; group 1 absent
    assert metric("acc_wg", y_true, y_pred, group, 2) == pytest.approx(0.5)
    assert metric("acc_gap", y_true, y_pred, group, 2) == pytest.approx(0.5)


def test_single_group_has_no_disparity() -> None:
    y_true, y_pred, _ = random_split(50, 3, 1, 0)
    group = np.zeros_like(y_true)
    for name in ["acc_gap", "dpd", "eod"]:
        assert metric(name, y_true, y_pred, group, 3) == 0.0
    assert metric("acc_wg", y_true, y_pred, group, 3) == pytest.approx(
        accuracy_score(y_true, y_pred)
    )


@pytest.mark.parametrize("seed", range(3))
def test_binary_dpd_and_eod_match_fairlearn(seed: int) -> None:
    y_true, y_pred, group = random_split(300, 2, 3, seed)
    assert metric("dpd", y_true, y_pred, group, 2) == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=group)
    )
    assert metric("eod", y_true, y_pred, group, 2) == pytest.approx(
        equalized_odds_difference(y_true, y_pred, sensitive_features=group)
    )


def test_eod_ignores_rates_undefined_in_a_group() -> None:
    """Group 1 has no positives: its TPR is undefined, so a perfect classifier scores 0
    (fairlearn would count the missing TPR as 0 and report 1)."""
    y_true = np.array([1, 1, 0, 0, 0, 0])
    group = np.array([0, 0, 0, 1, 1, 1])
    assert metric("eod", y_true, y_true, group, 2) == 0.0


def rate_range(outcome: np.ndarray, condition: np.ndarray, group: np.ndarray) -> float:
    """Range over groups of P(outcome | condition, group), skipping groups without condition."""
    rates = [
        outcome[(group == g) & condition].mean()
        for g in np.unique(group)
        if np.any((group == g) & condition)
    ]
    return max(rates) - min(rates) if len(rates) > 1 else 0.0


def test_multiclass_dpd_and_eod_are_worst_one_vs_rest_class() -> None:
    y_true, y_pred, group = random_split(400, 4, 3, seed=7)
    dpd, eod = [], []
    for c in range(4):
        true_c, pred_c = y_true == c, y_pred == c
        dpd.append(rate_range(pred_c, np.ones_like(true_c), group))
        eod.append(max(rate_range(pred_c, true_c, group), rate_range(pred_c, ~true_c, group)))
    assert metric("dpd", y_true, y_pred, group, 4) == pytest.approx(max(dpd))
    assert metric("eod", y_true, y_pred, group, 4) == pytest.approx(max(eod))


def test_multiclass_dpd_tiny_example_by_hand() -> None:
    y_pred = [0, 1, 2, 2, 0, 0]
    group = [0, 0, 0, 1, 1, 1]
    # selection rates (group 0, group 1): class 0 1/3 vs 2/3, class 1 1/3 vs 0, class 2 1/3 vs 1/3
    assert metric("dpd", [0] * 6, y_pred, group, 3) == pytest.approx(1 / 3)


def test_evaluate_split_keys_follow_wilds_naming() -> None:
    y_true, y_pred, group = random_split(100, 3, 2, 0)
    result = evaluate_split("test_shift", y_true, y_pred, group, 3, ["dim", "bright"])
    assert {f"test_shift/{m}" for m in CORE} <= set(result)
    assert {"test_shift/acc_group/dim", "test_shift/acc_group/bright"} <= set(result)
    assert all(key.startswith("test_shift/") for key in result)
    assert result["test_shift/acc_wg"] == min(
        result["test_shift/acc_group/dim"], result["test_shift/acc_group/bright"]
    )
    assert "test_shift/acc_group/1" in evaluate_split("test_shift", y_true, y_pred, group, 3)
    assert all(isinstance(v, float) for v in result.values())


def test_evaluate_split_rejects_misaligned_columns() -> None:
    with pytest.raises(ValueError, match="equal"):
        evaluate_split("val", [0, 1], [0], [0, 0], 2)


def test_shift_gap() -> None:
    metrics = {
        "test_id/acc": 0.9,
        "test_shift/acc": 0.7,
        "test_id/f1_macro": 0.5,
        "test_shift/f1_macro": 0.6,
    }
    assert shift_gap(metrics) == pytest.approx(0.2)
    assert shift_gap(metrics, "f1_macro") == pytest.approx(-0.1)


def test_group_table_rows() -> None:
    rows = group_table("val", [0, 1, 1, 0], [0, 1, 0, 0], [0, 0, 2, 2], ["a", "b", "c"])
    assert [(r["group"], r["name"], r["n"]) for r in rows] == [
        (0, "a", 2),
        (1, "b", 0),
        (2, "c", 2),
    ]
    assert [r["acc"] for r in rows][::2] == [1.0, 0.5]
    assert math.isnan(rows[1]["acc"])
    assert all(r["split"] == "val" for r in rows)


def test_group_table_rejects_unnamed_group() -> None:
    with pytest.raises(ValueError, match="no name"):
        group_table("val", [0], [0], [3], ["a"])
