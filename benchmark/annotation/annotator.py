"""The simulated annotator: the benchmark's stand-in for people, on every action.

Real pool items are answered from the hidden truth; synthetic items, which have no truth, by the
*judge* (a strong reference model trained on the ``reference`` split, never seen by methods)
that also rejects unrealistic items. With probability ``error_rate`` a person gives a wrong
class (drawn deterministically per item, so a resumed run gets the same answers). Every answer
is appended to the ledger before it is returned; a request already answered is replayed from
the ledger at no cost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from benchmark.annotation.judge import Judge
from benchmark.annotation.ledger import NO_LABEL, Annotation, Ledger, Request, content_digest, price


class SimulatedAnnotator:
    """Answers requests from a hidden ground-truth table (real items) or the judge (synthetic)."""

    def __init__(self, truth: Mapping[str, int], n_classes: int, ledger: Ledger,
                 costs: Mapping[str, float], error_rate: float = 0.0, seed: int = 0,
                 name: str = "simulated", judge: Judge | None = None) -> None:
        self.truth, self.n_classes, self.ledger = truth, n_classes, ledger
        self.costs, self.error_rate, self.seed, self.name = dict(costs), error_rate, seed, name
        self.judge = judge

    def review(self, requests: Sequence[Request], x: np.ndarray, synthetic: np.ndarray,
               round_: int) -> list[Annotation]:
        """One answer per request (``x`` / ``synthetic``: the requested items, aligned)."""
        known = self.ledger.lookup()
        fresh = [i for i, r in enumerate(requests) if r.key not in known]
        verdicts = self._judge([i for i in fresh if synthetic[i]], x)
        new = [self._answer(requests[i], bool(synthetic[i]), verdicts.get(i), round_,
                            content_digest(x[i])) for i in fresh]
        self.ledger.append(new)
        known = self.ledger.lookup()
        return [known[r.key] for r in requests]

    def _judge(self, rows: list[int], x: np.ndarray) -> dict[int, tuple[int, bool]]:
        if not rows:
            return {}
        if self.judge is None:
            raise RuntimeError("synthetic items need a judge: run the annotator stage first")
        label, realistic = self.judge.review(x[rows])
        return {i: (int(lab), bool(ok)) for i, lab, ok in zip(rows, label, realistic,
                                                               strict=True)}

    def _answer(self, req: Request, synthetic: bool, verdict: tuple[int, bool] | None,
                round_: int, digest: str) -> Annotation:
        if req.action == "reject" and not synthetic:
            raise ValueError(f"{req.item}: a real item cannot be rejected as unrealistic")
        if synthetic:
            assert verdict is not None
            true, realistic = verdict
            if not realistic:
                return self._record(req, NO_LABEL, "rejected", round_, digest)
            if req.action == "reject":
                return self._record(req, NO_LABEL, "kept", round_, digest)
        else:
            if req.item not in self.truth:
                raise KeyError(f"annotator has no ground truth for item {req.item!r}")
            true = int(self.truth[req.item])
        label = self._with_error(req.item, true)
        if req.action == "label":
            return self._record(req, label, "labelled", round_, digest)
        return self._record(req, label, "accepted" if label == req.proposed else "corrected",
                            round_, digest)

    def _record(self, req: Request, label: int, outcome: str, round_: int,
                digest: str) -> Annotation:
        """The answer, charged by :func:`benchmark.annotation.ledger.price`."""
        return Annotation(req.item, req.action, int(label), price(req.action, outcome,
                                                                  self.costs),
                          round_, self.name, outcome, req.proposed, digest)

    def _with_error(self, item: str, true: int) -> int:
        if self.error_rate == 0.0 or self.n_classes < 2:
            return true
        digest = hashlib.sha256(f"{self.seed}:{item}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        if rng.random() >= self.error_rate:
            return true
        return int((true + rng.integers(1, self.n_classes)) % self.n_classes)
