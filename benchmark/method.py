"""The construction-method contract (``propose`` -> ``select`` -> ``incorporate``) and its registry.

A method sees the labelled dataset built so far, the unlabelled pool (inputs and groups only:
labels and ground-truth patterns stay hidden behind the annotator) and the round's budget. It
decides what a human should look at and how the answers change the dataset.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from benchmark.annotation import Annotation
from benchmark.data import Split, concat_splits
from benchmark.registry import Registry

METHODS: Registry[type[Method]] = Registry("method", entry_point_group="benchmark.methods")


@dataclass
class Candidates:
    """Items a method could show to a human: their ids, inputs and groups."""

    items: np.ndarray  # str ids, e.g. "pool:17"
    x: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, index: np.ndarray) -> Candidates:
        return Candidates(self.items[index], self.x[index], self.group[index])


@dataclass
class RoundContext:
    """What a method may look at in one round."""

    round: int
    budget: float  # cost units this round may spend
    cost_label: float
    dataset: Split  # the labelled set D so far; meta["item"] holds item ids
    pool: Candidates  # the real pool not yet labelled
    val: Split
    n_classes: int
    rng: np.random.Generator
    seed: int


class Method(ABC):
    """A dataset-construction method. ``__init__`` only stores parameters (scikit-learn style)."""

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls) and not isinstance(getattr(cls, "name", None), str):
            raise TypeError(f"method {cls.__name__} must define a class attribute `name`")

    @abstractmethod
    def propose(self, ctx: RoundContext) -> Candidates:
        """Candidate items for this round (empty: nothing more to do)."""

    @abstractmethod
    def select(self, cands: Candidates, ctx: RoundContext) -> np.ndarray:
        """Indices into ``cands`` for the human to annotate, most wanted first; the loop stops
        sending them once the round's budget is spent.
        """

    def incorporate(self, ctx: RoundContext, cands: Candidates,
                    feedback: list[Annotation]) -> Split:
        """The new dataset: by default D plus every annotated candidate with its human label."""
        index = {item: i for i, item in enumerate(cands.items)}
        rows = np.array([index[a.item] for a in feedback], dtype=np.int64)
        if rows.size == 0:
            return ctx.dataset
        added = Split(
            cands.x[rows], np.array([a.label for a in feedback]), cands.group[rows],
            {"item": cands.items[rows], "origin": np.full(rows.size, "human")},
        )
        return concat_splits({"dataset": ctx.dataset, "added": added})

