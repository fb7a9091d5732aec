"""The simulated annotator: the benchmark's stand-in for people.

It reveals the hidden true label of a real pool item at ``cost_label`` per item and, with
probability ``error_rate``, gives a wrong label instead (drawn deterministically per item, so a
resumed run gets the same answers). Every answer is appended to the ledger before it is returned;
an item already in the ledger is answered from it at no extra cost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from benchmark.annotation.ledger import Annotation, Ledger


class SimulatedAnnotator:
    """Labels items by id from a hidden ground-truth table."""

    def __init__(self, truth: Mapping[str, int], n_classes: int, ledger: Ledger,
                 cost_label: float = 1.0, error_rate: float = 0.0, seed: int = 0,
                 name: str = "simulated") -> None:
        self.truth, self.n_classes, self.ledger = truth, n_classes, ledger
        self.cost_label, self.error_rate, self.seed, self.name = (
            cost_label, error_rate, seed, name)

    def label(self, items: Sequence[str], round_: int) -> list[Annotation]:
        """Labels for ``items``: from the ledger if already bought, else newly annotated."""
        known = self.ledger.lookup()
        fresh = [
            Annotation(item, "label", self._answer(item), self.cost_label, round_, self.name)
            for item in items if item not in known
        ]
        self.ledger.append(fresh)
        known = self.ledger.lookup()
        return [known[item] for item in items]

    def _answer(self, item: str) -> int:
        if item not in self.truth:
            raise KeyError(f"annotator has no ground truth for item {item!r}")
        true = int(self.truth[item])
        if self.error_rate == 0.0 or self.n_classes < 2:
            return true
        digest = hashlib.sha256(f"{self.seed}:{item}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        if rng.random() >= self.error_rate:
            return true
        return int((true + rng.integers(1, self.n_classes)) % self.n_classes)
