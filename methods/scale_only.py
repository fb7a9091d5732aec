"""``scale_only``: the textbook model-assisted scale-up — as many real-pool and untargeted
synthetic items as the size cap allows, pre-labelled by a committee trained on D; people verify
a random order of them while the budget lasts, and of the rest only pre-labels the committee is
sure of join unverified, as declared pseudo-labels.
"""

from __future__ import annotations

import numpy as np

from benchmark.annotation import Annotation, Request
from benchmark.construction.assist import Committee, committee, confidence_threshold
from benchmark.method import (
    METHODS,
    Candidates,
    Method,
    Pseudo,
    RoundView,
    label_requests,
)


@METHODS.register("scale_only")
class ScaleOnly(Method):
    """Per round: ``real`` random pool items and ``synthetic`` untargeted generated items
    (the size cap), pre-labelled by the committee; people verify a random order of them.
    ``pseudo_label`` lets an unverified candidate in with its pre-label when the committee's
    confidence reaches the threshold at which its pre-labels on ``val`` are right at least
    ``pseudo_precision`` of the time (chosen on ``val`` every round; without it only verified
    items enter). Unthresholded pseudo-labels are not scale-up but label noise: at quick sizes
    the committee's pre-labels of real pool items were right 67-71% of the time on climate and
    biomedical.
    """

    name = "scale_only"

    def __init__(self, real: int = 600, synthetic: int = 200, members: int = 5,
                 pseudo_label: bool = True, pseudo_precision: float = 0.95) -> None:
        self.real, self.synthetic, self.members = real, synthetic, members
        self.pseudo_label, self.pseudo_precision = pseudo_label, pseudo_precision

    def propose(self, view: RoundView) -> Candidates:
        take = view.rng.permutation(len(view.pool))[: self.real]
        parts = [view.pool.subset(np.sort(take))]
        if self.synthetic > 0:
            parts.append(view.generate(self.synthetic))
        return Candidates.concat(parts)

    def candidates_for_people(self, cands: Candidates, view: RoundView) -> np.ndarray:
        """Rows people may see (all of them)."""
        return np.arange(len(cands))

    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        self.committee_ = committee(view, cands, self.members)
        self.keep_ = self.candidates_for_people(cands, view)
        order = self.keep_[view.rng.permutation(len(self.keep_))]
        return label_requests(cands, order, "verify", self.committee_.prelabel)

    def incorporate(self, view: RoundView, cands: Candidates,
                    answers: list[Annotation]) -> Pseudo | None:
        if not self.pseudo_label:
            return None
        seen = {a.item for a in answers}
        rows = np.array([i for i in self.keep_ if str(cands.items[i]) not in seen], np.int64)
        rows = rows[self.confident(self.committee_, view)[rows]]
        rows = self.unverified(rows, cands, view)
        return Pseudo(rows, self.committee_.prelabel[rows])

    def confident(self, found: Committee, view: RoundView) -> np.ndarray:
        """Per candidate: is the committee's pre-label sure enough to join unverified?"""
        threshold = confidence_threshold(found.val_proba.mean(0), view.val.y,
                                         self.pseudo_precision)
        view.log["pseudo_threshold"] = threshold
        return found.mean.max(axis=1) >= threshold

    def unverified(self, rows: np.ndarray, cands: Candidates, view: RoundView) -> np.ndarray:
        """The confident unverified rows that join (all of them; basic_filter checks them)."""
        return rows
