"""Model-side mitigation, the reference the data-side methods are measured against: fairlearn's
``ThresholdOptimizer`` post-processes the trained downstream classifier with group-specific
decision thresholds, fitted on ``val`` (never a test split) under a fairness constraint.

A grid entry asks for it with ``postprocess`` (e.g. ``random_thresholded: {use: random,
postprocess: threshold_optimizer}`` in the ``methods`` section): the same dataset and recipe
as its method, one step more at training time. fairlearn's post-processing is defined for binary
labels only and needs both labels in every group of ``val``; where it cannot be fitted the entry
reports no scores and says why.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from benchmark.config import POSTPROCESSORS  # noqa: F401  validated there
from benchmark.data import Split

CONSTRAINT = "equalized_odds"


class _Prefit(ClassifierMixin, BaseEstimator):
    """The trained network in scikit-learn's shape (flat rows in, class probabilities out)."""

    def __init__(self, proba: Callable[[np.ndarray], np.ndarray] | None = None,
                 input_shape: tuple[int, ...] = ()) -> None:
        self.proba = proba
        self.input_shape = input_shape

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Prefit:
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        rows = np.asarray(x, np.float32).reshape(-1, *self.input_shape)
        return np.asarray(self.proba(rows), np.float64)  # fairlearn fails on float32 scores

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(1)


def unavailable(n_classes: int, val: Split) -> str | None:
    """Why the post-processing cannot be fitted here (None: it can): more than two classes, or
    a group whose ``val`` items all share one label (no threshold to choose).
    """
    if n_classes != 2:
        return "unsupported"
    for g in np.unique(val.group):
        if len(np.unique(val.y[val.group == g])) < 2:
            return "degenerate"
    return None


def threshold_optimizer(proba: Callable[[np.ndarray], np.ndarray], val: Split, seed: int
                        ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Fit group thresholds on ``val``; returns ``predict(x, group)``."""
    from fairlearn.postprocessing import ThresholdOptimizer

    shape = tuple(val.x.shape[1:])
    post = ThresholdOptimizer(estimator=_Prefit(proba, shape).fit(val.x[:0], val.y),
                              constraints=CONSTRAINT, objective="accuracy_score", prefit=True,
                              predict_method="predict_proba")
    post.fit(val.x.reshape(len(val), -1), val.y, sensitive_features=val.group)

    def predict(x: np.ndarray, group: np.ndarray) -> np.ndarray:
        return np.asarray(post.predict(x.reshape(len(x), -1), sensitive_features=group,
                                       random_state=seed), np.int64)

    return predict
