"""Model assistance shared by the model-assisted methods: a bootstrap committee of logistic
regressions on the encoder's embeddings of D, refitted every round. It pre-labels candidates,
feeds the acquisition functions and measures where the current dataset is weak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.construction.acquisition import agreement
from benchmark.method import Candidates, RoundView
from benchmark.upstream import patterns as pt


@dataclass
class Committee:
    """Class probabilities (members, items, classes) of the committee for the candidates and
    for ``val``, with the embeddings they were computed from.
    """

    proba: np.ndarray
    z: np.ndarray
    z_dataset: np.ndarray
    val_proba: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        return self.proba.mean(axis=0)

    @property
    def prelabel(self) -> np.ndarray:
        return self.mean.argmax(axis=1)


def committee(view: RoundView, cands: Candidates, members: int = 5) -> Committee:
    """Fit the committee on D (embedded) and predict the candidates and ``val``; logs the
    committee's cross-model agreement on ``val`` as ``committee_agreement``.
    """
    data = view.dataset
    z_d = view.embed(data.meta["item"])
    z = view.embed(cands.items)
    z_val = view.embeddings["val"]
    both = pt.committee_proba(z_d, data.y, np.concatenate([z, z_val]), view.n_classes, members,
                              seed=view.seed * 1000 + view.round)
    found = Committee(both[:, :len(z)], z, z_d, both[:, len(z):])
    view.log["committee_agreement"] = agreement(found.val_proba)
    view.log["committee_val_acc"] = float((found.val_proba.mean(0).argmax(1) == view.val.y).mean())
    return found


def confidence_threshold(proba: np.ndarray, y: np.ndarray, precision: float) -> float:
    """The lowest committee confidence at which pre-labels are right at least ``precision`` of
    the time on ``val`` (``proba``: the mean class probabilities of labelled items ``y``): the
    items at or above it are the largest confident set of that precision. ``inf`` when not even
    the most confident item reaches it (or there is no ``val``).
    """
    conf = proba.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    right = (proba.argmax(axis=1) == y)[order]
    if not len(right):
        return float("inf")
    running = np.cumsum(right) / np.arange(1, len(right) + 1)
    ok = np.flatnonzero(running >= precision)
    return float(conf[order[ok[-1]]]) if len(ok) else float("inf")
