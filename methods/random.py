"""``random``: passive learning — labels for random pool items until the budget is spent."""

from __future__ import annotations

import numpy as np

from benchmark.annotation import Request
from benchmark.method import METHODS, Candidates, Method, RoundView, label_requests


@METHODS.register("random")
class RandomSampling(Method):
    """Every unlabelled pool item is a candidate; the human labels a uniform random subset.

    ``balance_groups`` draws the subset stratified by fairness group (equal counts where the pool
    allows), the usual cheap fairness-aware variant of passive sampling.
    """

    name = "random"
    upstream = False  # real pool items only: no generator, no judge

    def __init__(self, balance_groups: bool = False) -> None:
        self.balance_groups = balance_groups

    def propose(self, view: RoundView) -> Candidates:
        return view.pool

    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        return label_requests(cands, self.order(cands, view))

    def order(self, cands: Candidates, view: RoundView) -> np.ndarray:
        order = view.rng.permutation(len(cands))
        if not self.balance_groups:
            return order
        # round-robin over groups, each group in its random order
        groups = cands.group[order]
        rank = np.empty(len(order), dtype=np.int64)
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            rank[members] = np.arange(len(members))
        return order[np.lexsort((groups, rank))]
