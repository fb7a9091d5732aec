"""``uncertainty``: pool-based active learning, the standard comparison point — a committee on
the encoder's embeddings of D ranks the remaining real pool items by an acquisition function,
and people label them in that order while the round's budget lasts. No generated items and no
pseudo-labels: what adaptive adds beyond it is what the comparison measures.
"""

from __future__ import annotations

from benchmark.annotation import Request
from benchmark.construction.acquisition import ACQUISITIONS
from benchmark.construction.assist import committee
from benchmark.method import METHODS, Candidates, Method, RoundView, label_requests


@METHODS.register("uncertainty")
class Uncertainty(Method):
    """``acquisition``: any registered acquisition function (``entropy``, ``margin``,
    ``least_confident``, ``bald``, ``kcenter``, ``random``); ``members``: the committee's size;
    ``assist``: people verify the committee's pre-label instead of labelling from scratch
    (model-assisted labelling: an accepted pre-label costs a verify, a corrected one a label).
    """

    name = "uncertainty"

    def __init__(self, acquisition: str = "entropy", members: int = 5,
                 assist: bool = False) -> None:
        self.acquisition, self.members, self.assist = acquisition, members, assist

    def propose(self, view: RoundView) -> Candidates:
        return view.pool

    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        found = committee(view, cands, self.members)
        rule = ACQUISITIONS.get(self.acquisition)()
        price = view.costs["verify" if self.assist else "label"]
        order = rule.order(found.proba, found.z, found.z_dataset, int(view.budget // price) + 1,
                           view.rng)
        if self.assist:
            return label_requests(cands, order, "verify", found.prelabel)
        return label_requests(cands, order)
