"""Per-split evaluation metrics, keyed ``{split}/{metric}`` with WILDS' naming (``acc_wg``).

Every metric is a ``SplitMetric``: ``(y_true, y_pred, group, n_classes) -> float``. The core ones
are registered here; plugins add theirs with ``@METRICS.register(name)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from fairlearn.metrics import MetricFrame, count
from sklearn.metrics import accuracy_score

from benchmark.evaluation.metrics.classification import accuracy, f1_macro, majority_share
from benchmark.evaluation.metrics.fairness import (
    accuracy_gap,
    demographic_parity,
    equalized_odds,
    group_accuracy,
    worst_group_accuracy,
)
from benchmark.registry import Registry

SplitMetric = Callable[[np.ndarray, np.ndarray, np.ndarray, int], float]

METRICS: Registry[SplitMetric] = Registry("metric")
METRICS.register("acc")(accuracy)
METRICS.register("f1_macro")(f1_macro)
METRICS.register("acc_wg")(worst_group_accuracy)
METRICS.register("acc_gap")(accuracy_gap)
METRICS.register("dpd")(demographic_parity)
METRICS.register("eod")(equalized_odds)
METRICS.register("majority_share")(majority_share)


def _as_arrays(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate one split's columns once, so every metric sees aligned int64 arrays."""
    y_true, y_pred, group = (np.asarray(a, dtype=np.int64).ravel() for a in (y_true, y_pred, group))
    lengths = {len(y_true), len(y_pred), len(group)}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"y_true, y_pred and group need one equal, non-zero length; got {lengths}")
    return y_true, y_pred, group


def evaluate_split(
    split: str, y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int,
    group_names: Sequence[str] | None = None,
) -> dict[str, float]:
    """All registered metrics for one split, keyed ``{split}/{metric}``, plus per-group accuracy
    keys ``{split}/acc_group/{name}`` (``group_names[g]``, or the id without names) for the
    groups present in the split, named as ``dataset/group_share/{name}`` is."""
    y_true, y_pred, group = _as_arrays(y_true, y_pred, group)
    result = {
        f"{split}/{name}": float(METRICS.get(name)(y_true, y_pred, group, n_classes))
        for name in METRICS.names()
    }
    by_group = group_accuracy(y_true, y_pred, group).by_group
    names = list(group_names) if group_names is not None else []
    result.update({f"{split}/acc_group/{names[int(g)] if int(g) < len(names) else int(g)}":
                   float(acc) for g, acc in by_group.items()})
    return result


def shift_gap(metrics: dict[str, float], metric: str = "acc") -> float:
    """In-distribution minus shifted score: how much of ``metric`` the shift costs."""
    return metrics[f"test_id/{metric}"] - metrics[f"test_shift/{metric}"]


def group_table(
    split: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    group: np.ndarray,
    group_names: list[str],
) -> list[dict]:
    """One row per group (``split, group, name, n, acc``) for a per-group W&B/CSV table; a group
    absent from the split keeps its row with ``n = 0`` and ``acc = nan`` so tables stay aligned."""
    y_true, y_pred, group = _as_arrays(y_true, y_pred, group)
    unknown = set(np.unique(group).tolist()) - set(range(len(group_names)))
    if unknown:
        raise ValueError(f"group ids {sorted(unknown)} have no name in {group_names}")
    frame = MetricFrame(
        metrics={"n": count, "acc": accuracy_score},
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=group,
    ).by_group
    rows = []
    for g, name in enumerate(group_names):
        present = g in frame.index
        n = int(frame.loc[g, "n"]) if present else 0
        acc = float(frame.loc[g, "acc"]) if present else float("nan")
        rows.append({"split": split, "group": g, "name": name, "n": n, "acc": acc})
    return rows
