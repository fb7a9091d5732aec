"""Acquisition functions: which candidates a human should see first, as registered plugins.

Each plugin turns a committee's class probabilities ``proba`` (members x items x classes) and
the items' embeddings into an order of the candidates, most wanted first. The scores come from
scikit-activeml's functional cores (``uncertainty_scores``, ``batch_bald``, ``k_greedy_center``)
rather than hand-written copies; ``weight`` (e.g. a cluster priority) multiplies the scores of
the score-based rules.

    order = ACQUISITIONS.get("bald")().order(proba, z_cands, z_labelled, n=50, rng=rng)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from benchmark.registry import Registry

ACQUISITIONS: Registry[type[Acquisition]] = Registry(
    "acquisition function", entry_point_group="benchmark.acquisitions")


class Acquisition(ABC):
    """An acquisition rule; ``__init__`` only stores parameters (scikit-learn style)."""

    name: ClassVar[str]

    @abstractmethod
    def order(self, proba: np.ndarray, z: np.ndarray, z_labelled: np.ndarray, n: int,
              rng: np.random.Generator, weight: np.ndarray | None = None) -> np.ndarray:
        """Indices of the candidates, most wanted first; at least ``min(n, len)`` of them."""


class ScoreAcquisition(Acquisition):
    """A rule that scores every candidate independently; higher scores are wanted first.
    Ties are broken at random so equal scores never favour low indices.
    """

    @abstractmethod
    def scores(self, proba: np.ndarray) -> np.ndarray:
        """One utility per candidate from ``proba`` (members, items, classes)."""

    def order(self, proba: np.ndarray, z: np.ndarray, z_labelled: np.ndarray, n: int,
              rng: np.random.Generator, weight: np.ndarray | None = None) -> np.ndarray:
        utility = np.nan_to_num(self.scores(_check(proba)), nan=0.0)
        if weight is not None:
            utility = utility * np.asarray(weight, float)
        return np.lexsort((rng.random(len(utility)), -utility))


def _check(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, float)
    if proba.ndim != 3:
        raise ValueError(f"proba: expected (members, items, classes), got shape {proba.shape}")
    return proba


@ACQUISITIONS.register("random")
class Random(ScoreAcquisition):
    """The control: a uniformly random order."""

    name = "random"

    def scores(self, proba: np.ndarray) -> np.ndarray:
        return np.zeros(proba.shape[1])


class _Uncertainty(ScoreAcquisition):
    """scikit-activeml's uncertainty sampling on the committee's mean prediction."""

    method: ClassVar[str]

    def scores(self, proba: np.ndarray) -> np.ndarray:
        from skactiveml.pool import uncertainty_scores

        return uncertainty_scores(proba.mean(axis=0), method=self.method)


@ACQUISITIONS.register("entropy")
class Entropy(_Uncertainty):
    """Predictive entropy -sum p log p of the mean prediction."""

    name, method = "entropy", "entropy"


@ACQUISITIONS.register("margin")
class Margin(_Uncertainty):
    """Small gap between the two most probable classes first."""

    name, method = "margin", "margin_sampling"


@ACQUISITIONS.register("least_confident")
class LeastConfident(_Uncertainty):
    """Low probability of the predicted class first."""

    name, method = "least_confident", "least_confident"


@ACQUISITIONS.register("bald")
class BALD(ScoreAcquisition):
    """BALD (Houlsby et al. 2011): mutual information between the label and the committee
    member, H[mean p] - mean H[p], via scikit-activeml's ``batch_bald`` with batch size 1.
    """

    name = "bald"

    def scores(self, proba: np.ndarray) -> np.ndarray:
        from skactiveml.pool import batch_bald

        return batch_bald(proba, batch_size=1, random_state=0)[0]


@ACQUISITIONS.register("kcenter")
class KCenter(Acquisition):
    """Diversity-aware batch (Sener & Savarese 2018): greedily the candidate farthest from the
    labelled set and the batch so far, in embedding space (scikit-activeml's
    ``k_greedy_center``); candidates after the first ``n`` follow in random order.
    """

    name = "kcenter"

    def order(self, proba: np.ndarray, z: np.ndarray, z_labelled: np.ndarray, n: int,
              rng: np.random.Generator, weight: np.ndarray | None = None) -> np.ndarray:
        from skactiveml.pool import k_greedy_center

        n = min(n, len(z))
        if n == 0:
            return np.arange(0)
        x = np.concatenate([z_labelled, z]).astype(np.float64)
        y = np.concatenate([np.zeros(len(z_labelled)), np.full(len(z), np.nan)])
        mapping = np.arange(len(z_labelled), len(x))
        chosen, _ = k_greedy_center(x, y, batch_size=n, mapping=mapping,
                                 random_state=int(rng.integers(2**31)))
        chosen = np.asarray(chosen, dtype=np.int64) - len(z_labelled)
        rest = np.setdiff1d(np.arange(len(z)), chosen)
        return np.concatenate([chosen, rng.permutation(rest)])


def agreement(proba: np.ndarray) -> float:
    """Cross-model consistency: mean pairwise share of items on which two committee members
    predict the same class (1.0 for a single member).
    """
    votes = _check(proba).argmax(axis=2)
    m = len(votes)
    if m < 2:
        return 1.0
    pairs = [(votes[i] == votes[j]).mean() for i in range(m) for j in range(i + 1, m)]
    return float(np.mean(pairs))
