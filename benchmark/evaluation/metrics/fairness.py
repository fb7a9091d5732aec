"""Group-fairness metrics over the ``group`` column, computed with fairlearn's ``MetricFrame``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    false_positive_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

BinaryDisparity = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


def group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray) -> MetricFrame:
    """Accuracy per group, over the groups present in the split only."""
    return MetricFrame(
        metrics=accuracy_score, y_true=y_true, y_pred=y_pred, sensitive_features=group
    )


def worst_group_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int
) -> float:
    """Lowest per-group accuracy (WILDS' ``acc_wg``)."""
    return float(group_accuracy(y_true, y_pred, group).group_min())


def accuracy_gap(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int
) -> float:
    """Highest minus lowest per-group accuracy; 0 with a single group."""
    return float(group_accuracy(y_true, y_pred, group).difference())


def _dpd(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray) -> float:
    """Demographic parity difference as fairlearn defines it, positive class 1."""
    return float(demographic_parity_difference(y_true, y_pred, sensitive_features=group))


def _rate_if_defined(rate: Callable[..., float], condition: int) -> Callable[..., float]:
    """Wrap a fairlearn rate so a group without items of the conditioning label yields nan.

    fairlearn reports such an undefined rate as 0, which gives a perfect classifier an equalized
    odds difference of 1 whenever one group lacks positives (common for one-vs-rest classes).
    """

    def defined_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if not np.any(np.asarray(y_true) == condition):
            return float("nan")
        return float(rate(y_true, y_pred, pos_label=1))

    return defined_rate


def _eod(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray) -> float:
    """Equalized odds difference: the larger of the TPR and FPR ranges across groups.

    Each range spans only the groups where that rate is defined (TPR: the group has positives;
    FPR: it has negatives); a rate defined in fewer than two groups contributes 0. Equal to
    fairlearn's ``equalized_odds_difference`` whenever every group has both labels.
    """
    rates = MetricFrame(
        metrics={
            "tpr": _rate_if_defined(true_positive_rate, condition=1),
            "fpr": _rate_if_defined(false_positive_rate, condition=0),
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=group,
    ).by_group
    ranges = (rates.max() - rates.min()).fillna(0.0)
    return float(ranges.max())


def _worst_class(
    disparity: BinaryDisparity,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    group: np.ndarray,
    n_classes: int,
) -> float:
    """Apply a binary disparity directly (2 classes) or one-vs-rest, keeping the worst class."""
    y_true, y_pred, group = np.asarray(y_true), np.asarray(y_pred), np.asarray(group)
    if len(np.unique(group)) < 2:
        return 0.0
    if n_classes == 2:
        return disparity(y_true, y_pred, group)
    per_class = [
        disparity((y_true == c).astype(np.int64), (y_pred == c).astype(np.int64), group)
        for c in range(n_classes)
    ]
    return max(per_class)


def demographic_parity(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int
) -> float:
    """Demographic parity difference (range of selection rates across groups).

    Binary tasks use class 1 as positive; with more classes it is the maximum over classes of the
    one-vs-rest value (the worst class). 0 when the split holds a single group.
    """
    return _worst_class(_dpd, y_true, y_pred, group, n_classes)


def equalized_odds(
    y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int
) -> float:
    """Equalized odds difference (larger of the TPR and FPR ranges across groups).

    Binary tasks use class 1 as positive; with more classes it is the maximum over classes of the
    one-vs-rest value (the worst class). 0 when the split holds a single group.
    """
    return _worst_class(_eod, y_true, y_pred, group, n_classes)
