"""Task metrics computed with torchmetrics, so training-time and evaluation-time numbers agree."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score


def _tensor(labels: np.ndarray) -> torch.Tensor:
    """Class indices as the int64 tensor torchmetrics expects."""
    return torch.as_tensor(np.asarray(labels, dtype=np.int64))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int) -> float:
    """Fraction of correct predictions (micro accuracy); ``group`` is unused."""
    score = multiclass_accuracy(_tensor(y_pred), _tensor(y_true), n_classes, average="micro")
    return float(score)


def f1_macro(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over all ``n_classes`` classes; ``group`` is unused.

    A class with no true and no predicted items scores 0 and still counts in the mean
    (scikit-learn's ``labels=range(n_classes), zero_division=0``). torchmetrics' own
    ``average="macro"`` drops such classes instead, so its denominator would depend on the split
    and on the model.
    """
    per_class = multiclass_f1_score(
        _tensor(y_pred), _tensor(y_true), n_classes, average="none", zero_division=0
    )
    return float(per_class.mean())
