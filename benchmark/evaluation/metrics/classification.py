"""Task metrics computed with torchmetrics, so training-time and evaluation-time numbers agree.

torch and torchmetrics are imported on first use: ``import benchmark.evaluation.metrics`` (the
report stage, which only aggregates written metrics) then costs no torch import (about 3 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def _tensor(labels: np.ndarray) -> torch.Tensor:
    """Class indices as the int64 tensor torchmetrics expects."""
    import torch

    return torch.as_tensor(np.asarray(labels, dtype=np.int64))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int) -> float:
    """Fraction of correct predictions (micro accuracy); ``group`` is unused."""
    from torchmetrics.functional.classification import multiclass_accuracy

    score = multiclass_accuracy(_tensor(y_pred), _tensor(y_true), n_classes, average="micro")
    return float(score)


def f1_macro(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over all ``n_classes`` classes; ``group`` is unused.

    A class with no true and no predicted items scores 0 and still counts in the mean
    (scikit-learn's ``labels=range(n_classes), zero_division=0``). torchmetrics' own
    ``average="macro"`` drops such classes instead, so its denominator would depend on the split
    and on the model.
    """
    from torchmetrics.functional.classification import multiclass_f1_score

    per_class = multiclass_f1_score(
        _tensor(y_pred), _tensor(y_true), n_classes, average="none", zero_division=0
    )
    return float(per_class.mean())


def majority_share(y_true: np.ndarray, y_pred: np.ndarray, group: np.ndarray,
                   n_classes: int) -> float:
    """Share of predictions in the most predicted class: 1.0 is a model that says one class
    whatever it sees (the report warns: its accuracy is the class prior, not learning).
    """
    return float(np.bincount(np.asarray(y_pred, np.int64), minlength=n_classes).max()
                 / max(len(y_pred), 1))
