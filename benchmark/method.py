"""The construction-method contract (``propose`` -> ``select`` -> ``incorporate``).

A method sees what a real team would see: the dataset D built so far, the unlabelled pool
(inputs and groups; labels stay behind the annotator), ``val`` without its meta (no ground-truth
patterns), and lazy handles to the domain's encoder, pattern clusters and generator. It decides
which items a human should look at and with which action; it never decides what enters D. The
loop adds every item a human labelled, accepted or corrected, plus the method's declared unpaid
additions (pseudo-labels, marked as such), and refuses anything else.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from benchmark.annotation.ledger import Annotation, Request
from benchmark.data import Split
from benchmark.registry import METHODS

__all__ = ["METHODS", "Candidates", "Method", "Pseudo", "RoundContext", "UNKNOWN_GROUP"]

UNKNOWN_GROUP = -1  # the group of a synthetic item: no person or site stands behind it
PROVENANCE = ("source", "target_label", "target_cluster")  # meta every candidate carries


@dataclass
class Candidates:
    """Items a method could show to a human: ids, inputs, groups and provenance meta
    (``source`` = pool | synthetic, ``target_label`` / ``target_cluster``, -1 = not targeted).
    """

    items: np.ndarray  # str ids: "pool:17" (real) or "synth:2:5" (generated in round 2)
    x: np.ndarray
    group: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.items)
        self.meta = {"source": np.full(n, "pool"), "target_label": np.full(n, -1),
                     "target_cluster": np.full(n, -1), **self.meta}

    def __len__(self) -> int:
        return len(self.items)

    @property
    def synthetic(self) -> np.ndarray:
        return self.meta["source"] == "synthetic"

    def subset(self, index: np.ndarray) -> Candidates:
        index = np.asarray(index, dtype=np.int64)
        return Candidates(self.items[index], self.x[index], self.group[index],
                          {k: v[index] for k, v in self.meta.items()})

    @staticmethod
    def concat(parts: Sequence[Candidates]) -> Candidates:
        """Stack candidate sets, keeping the meta columns they all carry."""
        parts = [p for p in parts if len(p)] or list(parts[:1])
        keys = set.intersection(*(set(p.meta) for p in parts))
        return Candidates(np.concatenate([p.items for p in parts]),
                          np.concatenate([p.x for p in parts]),
                          np.concatenate([p.group for p in parts]),
                          {k: np.concatenate([p.meta[k] for p in parts]) for k in sorted(keys)})


@dataclass(frozen=True)
class Pseudo:
    """Unpaid additions a method declares: rows of the round's candidates with the labels a
    model gave them. They enter D marked ``origin = pseudo``; no human cost is claimed.
    """

    index: np.ndarray
    label: np.ndarray


@dataclass
class RoundContext:
    """What a method may look at in one round (and nothing else)."""

    round: int
    budget: float  # cost units this round may spend
    costs: dict[str, float]  # cost per action (label, verify, reject)
    dataset: Split  # D so far; meta: item, origin, source, target_label, target_cluster
    pool: Candidates  # the real pool items not in D, without labels
    val: Split  # labelled, meta stripped
    n_classes: int
    rng: np.random.Generator
    seed: int
    history: list[dict[str, Any]]  # the loop's log of the completed rounds
    resources: Any = None  # benchmark.resources.Resources: encoder, patterns, generator (lazy)
    generate: Callable[..., Candidates] | None = None  # targeted / untargeted synthetic items
    log: dict[str, float] = field(default_factory=dict)  # diagnostics a method reports per round


class Method(ABC):
    """A dataset-construction method. ``__init__`` only stores parameters (scikit-learn style);
    a method keeps no state between rounds (a resumed run gets a fresh object), so whatever it
    learns must come from the context.
    """

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls) and not isinstance(getattr(cls, "name", None), str):
            raise TypeError(f"method {cls.__name__} must define a class attribute `name`")

    @abstractmethod
    def propose(self, ctx: RoundContext) -> Candidates:
        """Candidate items for this round: pool items and/or ``ctx.generate(...)`` output
        (empty: nothing more to do).
        """

    @abstractmethod
    def select(self, cands: Candidates, ctx: RoundContext) -> list[Request]:
        """Requests for a human, most wanted first; the loop sends them in this order while
        the round's budget lasts.
        """

    def incorporate(self, ctx: RoundContext, cands: Candidates,
                    answers: list[Annotation]) -> Pseudo | None:
        """Declared unpaid additions (pseudo-labels) after the human answers; none by default."""
        return None


def label_requests(cands: Candidates, order: np.ndarray, action: str = "label",
                   proposed: np.ndarray | None = None) -> list[Request]:
    """Requests of one ``action`` for the candidates in ``order`` (``proposed``: per candidate)."""
    if action == "verify" and proposed is None:
        raise ValueError("verify requests need proposed labels")
    return [Request(str(cands.items[i]), action,
                    int(proposed[i]) if proposed is not None and action == "verify" else -1)
            for i in np.asarray(order, dtype=np.int64)]
