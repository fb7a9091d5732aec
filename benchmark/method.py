"""The construction-method contract (``propose`` -> ``select`` -> ``incorporate``) and the sealed
view of a round that a method works from.

A method sees what a real team would see: the dataset D built so far, the unlabelled pool
(inputs and groups; labels stay behind the annotator), ``val`` without its meta (no ground-truth
patterns), embeddings of those items, the frozen pattern clusters and a generator. It decides
which items a person should look at and with which action; it never decides what enters D or
what was spent. The view (:class:`RoundView`) is built fresh for every call from read-only
copies, so nothing a method does to it reaches the loop: the loop uses only what a method
returns (candidate ids, requests, declared pseudo-labels) and records ``view.log`` as the
method's own diagnostics (``method/<key>``), which nothing else reads. What is not in the view
(the judge, the annotator, ``reference`` and test data, paths) is out of a method's reach: asking
for it raises an ``AttributeError`` that names it.
"""

from __future__ import annotations

import copy
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from benchmark.annotation.ledger import Annotation, Request
from benchmark.data import Split
from benchmark.registry import METHODS

__all__ = ["METHODS", "Candidates", "Method", "MethodError", "ProtocolError", "Pseudo",
           "RoundView", "UNKNOWN_GROUP", "label_requests"]

UNKNOWN_GROUP = -1  # the group of a synthetic item: no person or site stands behind it
PROVENANCE = ("source", "target_label", "target_cluster")  # meta every candidate carries
VISIBLE_EMBEDDINGS = ("seed", "pool", "val")  # never reference or test: the harness's alone


class ProtocolError(RuntimeError):
    """A method tried to put into D (or ask about) something the protocol does not allow."""


class MethodError(RuntimeError):
    """A method raised (for instance on reaching for what its view does not hold)."""


def sealed(array: np.ndarray) -> np.ndarray:
    """A read-only copy: what a method is handed is never an array the harness keeps."""
    out = np.array(array, copy=True)
    out.setflags(write=False)
    return out


def frozen(value: Any) -> Any:
    """A deep, read-only copy of a JSON-like log: mappings become read-only mappings, lists
    tuples and arrays read-only copies.
    """
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    if isinstance(value, np.ndarray):
        return sealed(value)
    return copy.deepcopy(value)


@dataclass(frozen=True)
class Candidates:
    """Items a method could show to a person: ids, inputs, groups and provenance meta
    (``source`` = pool | synthetic, ``target_label`` / ``target_cluster``, -1 = not targeted).
    Only the ids of the candidates a method returns count: the loop looks every item up in its
    own copies.
    """

    items: np.ndarray  # str ids: "pool:17" (real) or "synth:2:5" (generated in round 2)
    x: np.ndarray
    group: np.ndarray
    meta: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.items)
        object.__setattr__(self, "meta", {
            "source": np.full(n, "pool"), "target_label": np.full(n, -1),
            "target_cluster": np.full(n, -1), **self.meta})

    def __len__(self) -> int:
        return len(self.items)

    @property
    def synthetic(self) -> np.ndarray:
        return self.meta["source"] == "synthetic"

    def subset(self, index: np.ndarray) -> Candidates:
        index = np.asarray(index, dtype=np.int64)
        return Candidates(self.items[index], self.x[index], self.group[index],
                          {k: v[index] for k, v in self.meta.items()})

    def sealed(self) -> Candidates:
        """A read-only copy, as a method is handed it."""
        return Candidates(sealed(self.items), sealed(self.x), sealed(self.group),
                          MappingProxyType({k: sealed(v) for k, v in self.meta.items()}))

    @staticmethod
    def concat(parts: Sequence[Candidates]) -> Candidates:
        """Stack candidate sets, keeping the meta columns they all carry."""
        parts = [p for p in parts if len(p)] or list(parts[:1])
        keys = set.intersection(*(set(p.meta) for p in parts))
        return Candidates(np.concatenate([p.items for p in parts]),
                          np.concatenate([p.x for p in parts]),
                          np.concatenate([p.group for p in parts]),
                          {k: np.concatenate([p.meta[k] for p in parts]) for k in sorted(keys)})


def sealed_split(split: Split, meta: bool = True) -> Split:
    """A read-only copy of a split (its meta too, unless ``meta`` is False)."""
    columns = MappingProxyType({k: sealed(v) for k, v in split.meta.items()} if meta else {})
    return Split(sealed(split.x), sealed(split.y), sealed(split.group), columns)


@dataclass(frozen=True)
class Pseudo:
    """Unpaid additions a method declares: rows of the round's candidates with the labels a
    model gave them. They enter D marked ``origin = pseudo``; no human cost is claimed, and an
    item a person answered (in any round) cannot be one.
    """

    index: np.ndarray
    label: np.ndarray


class _Arrays(Mapping[str, np.ndarray]):
    """Named arrays, loaded on first use and handed out as read-only copies, one per access."""

    def __init__(self, load: Callable[[], Mapping[str, np.ndarray]]) -> None:
        self._load = load

    @cached_property
    def _arrays(self) -> Mapping[str, np.ndarray]:
        return self._load()

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            raise KeyError(f"embeddings of {key!r} are not in a method's view; it sees "
                           f"{sorted(self._arrays)}")
        return sealed(self._arrays[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


@dataclass(frozen=True)
class RoundView:
    """What a method may look at in one call of one round, and nothing else.

    ``budget``: cost units the round may spend; ``costs``: the price of each action (a verify
    a person corrects is charged as a label: a correction is a label); ``dataset``: D so far
    (meta ``item``, ``origin``, ``source``, ``target_label``, ``target_cluster``, ``action``);
    ``pool``: the real pool items not in D and not answered before, without labels; ``val``:
    labelled, without meta; ``history``: the loop's log of the completed rounds, without the
    harness's hidden-truth keys; ``embeddings``: the encoder's embeddings of ``seed``, ``pool``
    and ``val``; ``patterns``: the frozen pattern clusters (``k``, ``assign(z)``); ``log``:
    diagnostics the method reports for the round (numbers, logged as ``method/<key>``).
    """

    round: int
    budget: float
    costs: Mapping[str, float]
    dataset: Split
    pool: Candidates
    val: Split
    n_classes: int
    seed: int
    rng: np.random.Generator
    history: tuple[Mapping[str, Any], ...]
    embeddings: Mapping[str, np.ndarray]
    log: dict[str, float]
    _patterns: Callable[[], Any] | None = field(default=None, repr=False)
    _embed: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    _generate: Callable[..., Candidates] | None = field(default=None, repr=False)

    @cached_property
    def patterns(self) -> Any:
        """The frozen pattern clusters (a copy, made when first asked for; None without
        upstream resources).
        """
        return self._patterns() if self._patterns is not None else None

    def embed(self, items: np.ndarray) -> np.ndarray:
        """Encoder embeddings of items by id: D's rows, the seed, the pool and this round's
        generated items.
        """
        if self._embed is None:
            raise RuntimeError("this run has no encoder (no upstream resources)")
        return sealed(self._embed(np.asarray(items).astype(str)))

    def generate(self, n: int, label: int | np.ndarray | None = None,
                 cluster: int | np.ndarray | None = None) -> Candidates:
        """``n`` synthetic candidates of the requested class / cluster (None: untargeted)."""
        if self._generate is None:
            raise RuntimeError("this run has no generator (no upstream resources)")
        return self._generate(n, label, cluster).sealed()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{name!r} is not in a method's view; a method sees "
                             f"{', '.join(VIEW_FIELDS)} (methods/README.md)")


VIEW_FIELDS = tuple(f.name for f in fields(RoundView) if not f.name.startswith("_")) + (
    "patterns", "embed()", "generate()")


def finite_log(log: Mapping[Any, Any]) -> dict[str, float]:
    """A method's diagnostics as the loop records them: named numbers, finite or nan."""
    out = {}
    for key, value in log.items():
        if isinstance(key, str) and isinstance(value, int | float | np.number) and not (
                isinstance(value, float) and math.isinf(value)):
            out[key] = float(value)
    return out


class Method(ABC):
    """A dataset-construction method. ``__init__`` only stores parameters (scikit-learn style);
    a method keeps no state between rounds or runs (a resumed run, and every cell, gets a fresh
    object in a process of its own), so whatever it learns must come from the view.
    """

    name: ClassVar[str]
    # whether it calls on the upstream models (the generator, the encoder on new items, the
    # judge behind synthetic answers): the stage loads and checks them, and schedules its cells
    # first, only for methods that do
    upstream: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls) and not isinstance(getattr(cls, "name", None), str):
            raise TypeError(f"method {cls.__name__} must define a class attribute `name`")

    @abstractmethod
    def propose(self, view: RoundView) -> Candidates:
        """Candidate items for this round: pool items and/or ``view.generate(...)`` output
        (empty: nothing more to do). Only their ids are read.
        """

    @abstractmethod
    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        """Requests for a person, most wanted first; the loop sends them in this order while
        the round's budget lasts.
        """

    def incorporate(self, view: RoundView, cands: Candidates,
                    answers: list[Annotation]) -> Pseudo | None:
        """Declared unpaid additions (pseudo-labels) after the answers; none by default."""
        return None


def label_requests(cands: Candidates, order: np.ndarray, action: str = "label",
                   proposed: np.ndarray | None = None) -> list[Request]:
    """Requests of one ``action`` for the candidates in ``order`` (``proposed``: per candidate)."""
    if action == "verify" and proposed is None:
        raise ValueError("verify requests need proposed labels")
    return [Request(str(cands.items[i]), action,
                    int(proposed[i]) if proposed is not None and action == "verify" else -1)
            for i in np.asarray(order, dtype=np.int64)]
