"""``uncertainty``: pool-based active learning, the standard comparison point — a committee on
the encoder's embeddings of D ranks the remaining real pool items by an acquisition function,
and people label them in that order while the round's budget lasts. No generated items and no
pseudo-labels: what adaptive adds beyond it is what the comparison measures.
"""

from __future__ import annotations

from benchmark.annotation import Request
from benchmark.annotation.acquisition import ACQUISITIONS
from benchmark.assist import committee
from benchmark.method import METHODS, Candidates, Method, RoundView, label_requests


@METHODS.register("uncertainty")
class Uncertainty(Method):
    """``acquisition``: any registered acquisition function (``entropy``, ``margin``,
    ``least_confident``, ``bald``, ``kcenter``, ``random``); ``members``: the committee's size.
    """

    name = "uncertainty"

    def __init__(self, acquisition: str = "entropy", members: int = 5) -> None:
        self.acquisition, self.members = acquisition, members

    def propose(self, view: RoundView) -> Candidates:
        return view.pool

    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        found = committee(view, cands, self.members)
        rule = ACQUISITIONS.get(self.acquisition)()
        order = rule.order(found.proba, found.z, found.z_dataset,
                           int(view.budget // view.costs["label"]) + 1, view.rng)
        return label_requests(cands, order)
