"""``seed_only``: train on the seed set alone — the floor every method must beat."""

from __future__ import annotations

import numpy as np

from benchmark.annotation import Request
from benchmark.method import METHODS, Candidates, Method, RoundView


@METHODS.register("seed_only")
class SeedOnly(Method):
    """Buys nothing: proposes no candidates, so the loop stops in its first round."""

    name = "seed_only"
    upstream = False  # real pool items only: no generator, no judge

    def propose(self, view: RoundView) -> Candidates:
        return view.pool.subset(np.array([], dtype=np.int64))

    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        return []
