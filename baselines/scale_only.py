"""``scale_only``: sheer scale, model-assisted — as many real-pool and untargeted synthetic items
as the size cap allows, pre-labelled by a committee trained on D; the human budget verifies a
random subset and the rest join unverified, as declared pseudo-labels.
"""

from __future__ import annotations

import numpy as np

from benchmark.annotation import Annotation, Request
from benchmark.assist import committee
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
    ``pseudo_label`` lets every unverified candidate in with its pre-label (the point of
    scale); without it only verified items enter.
    """

    name = "scale_only"

    def __init__(self, real: int = 600, synthetic: int = 200, members: int = 5,
                 pseudo_label: bool = True) -> None:
        self.real, self.synthetic, self.members = real, synthetic, members
        self.pseudo_label = pseudo_label

    def propose(self, view: RoundView) -> Candidates:
        take = view.rng.permutation(len(view.pool))[: self.real]
        parts = [view.pool.subset(np.sort(take))]
        if self.synthetic > 0:
            parts.append(view.generate(self.synthetic))
        return Candidates.concat(parts)

    def candidates_for_people(self, cands: Candidates, view: RoundView) -> np.ndarray:
        """Rows people may see (all of them here; basic_filter drops some first)."""
        return np.arange(len(cands))

    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        self.prelabel_ = committee(view, cands, self.members).prelabel
        self.keep_ = self.candidates_for_people(cands, view)
        order = self.keep_[view.rng.permutation(len(self.keep_))]
        return label_requests(cands, order, "verify", self.prelabel_)

    def incorporate(self, view: RoundView, cands: Candidates,
                    answers: list[Annotation]) -> Pseudo | None:
        if not self.pseudo_label:
            return None
        seen = {a.item for a in answers}
        rows = np.array([i for i in self.keep_ if str(cands.items[i]) not in seen], np.int64)
        return Pseudo(rows, self.prelabel_[rows])
