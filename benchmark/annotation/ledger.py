"""The append-only annotation ledger: one JSON line per human answer, fsynced as it is written.

The first line is a header holding a fingerprint of everything the answers depend on (data,
method and its code, budget, seed). A ledger with the same fingerprint is resumed, so a killed
run never pays for an answer twice or loses one; a ledger with another fingerprint belongs to
an outdated run and is moved aside (never deleted nor overwritten: ``ledger.jsonl.stale``, then
``.stale.1``, ``.stale.2``, ...) when the new run records its first answer, or completes.

A record is complete only when its newline is on disk: a crash mid-write leaves at most one
unterminated tail, which resuming cuts back to the last newline. A record that cannot be read
*before* readable ones is not a crash artefact but damage, and stops the run instead of
silently dropping the answers after it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from benchmark.io import DataFormatError

# What a human can be asked to do with an item (``annotator.costs`` prices each):
#   label  - give the class of an item from scratch;
#   verify - accept or correct a proposed label (a model's pre-label or a generator's target);
#   reject - screen a synthetic item only: keep it or discard it as unrealistic / off-target.
ACTIONS: tuple[str, ...] = ("label", "verify", "reject")
# What came back: ``labelled`` (label), ``accepted`` / ``corrected`` (verify), ``kept`` (reject),
# and ``rejected`` for a synthetic item discarded under any action.
OUTCOMES: tuple[str, ...] = ("labelled", "accepted", "corrected", "kept", "rejected")
# Outcomes that give an item a human-confirmed label, so the loop adds it to the dataset.
LABELLED: frozenset[str] = frozenset({"labelled", "accepted", "corrected"})
NO_LABEL = -1


def price(action: str, outcome: str, costs: Mapping[str, float]) -> float:
    """What one answer costs: its action's price (``annotator.costs``), except that a verify
    a person corrects costs a label: finding the right class is labelling, whatever was
    proposed. Without this, verifying a wrong proposal would buy true labels at the verify price.
    """
    if action == "verify" and outcome == "corrected":
        return float(max(costs["label"], costs["verify"]))
    return float(costs[action])


def worst_price(action: str, costs: Mapping[str, float]) -> float:
    """The most an answer to ``action`` can cost, known before the answer: what the loop
    reserves so that no round spends more than its budget.
    """
    return float(max(costs["label"], costs["verify"])) if action == "verify" else float(
        costs[action])


def content_digest(x: np.ndarray) -> str:
    """A short digest of one item's inputs: an answer replays only for the item it was given
    for (a synthetic id regenerated with other contents is another item).
    """
    return hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()[:16]


class LedgerError(DataFormatError):
    """A ledger file that is damaged beyond a crash cut short mid-write."""


@dataclass(frozen=True)
class Request:
    """One thing a human is asked: ``action`` on ``item``, with the label proposed for
    ``verify`` (``NO_LABEL`` otherwise).
    """

    item: str
    action: str
    proposed: int = NO_LABEL

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; expected one of {ACTIONS}")
        if self.action == "verify" and self.proposed < 0:
            raise ValueError(f"verify request for {self.item!r} needs a proposed label")

    @property
    def key(self) -> tuple[str, str]:
        return (self.item, self.action)


@dataclass(frozen=True)
class Annotation:
    """One human answer: the request, what came back and what it cost."""

    item: str
    action: str
    label: int
    cost: float
    round: int
    annotator: str
    outcome: str = "labelled"
    proposed: int = NO_LABEL
    digest: str = ""  # content_digest of the inputs answered ("" in ledgers of before it)

    @property
    def key(self) -> tuple[str, str]:
        return (self.item, self.action)

    @property
    def gives_label(self) -> bool:
        return self.outcome in LABELLED


_FIELDS = {f.name for f in fields(Annotation)}


class Ledger:
    """Append-only JSONL record of every human answer of one run, keyed by (item, action)."""

    def __init__(self, path: str | Path, fingerprint: str, n_classes: int | None = None) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.n_classes = n_classes  # known: a recorded label outside 0 .. n_classes - 1 is damage
        self.entries: list[Annotation] = []
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._started = False
        if self.path.exists():
            data = self.path.read_bytes()
            header = _parse(data.split(b"\n", 1)[0]) if b"\n" in data else None
            if header is not None and header.get("fingerprint") == self.fingerprint:
                self._resume(data)
                self._started = True
                return
        # an outdated ledger stays in place until this run records something (start): a run
        # that fails first (a damaged upstream file, say) moves nothing aside

    def start(self) -> None:
        """Make the file this run's ledger: an outdated one is moved aside, a header written."""
        if self._started:
            return
        if self.path.exists():
            self.path.replace(self._aside())
        self._started = True
        self._write_line({"ledger": 2, "fingerprint": self.fingerprint})

    def _aside(self) -> Path:
        """The first free name for an outdated ledger: earlier ones are never overwritten."""
        aside, n = self.path.with_name(f"{self.path.name}.stale"), 0
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.stale.{n}")
        return aside

    def _resume(self, data: bytes) -> None:
        """Keep every newline-terminated record; cut an unterminated tail back to the last
        newline. An unreadable record followed by readable ones is damage: refuse to go on.
        """
        offset = data.index(b"\n") + 1  # after the header
        keep, bad = offset, None
        for number, raw in enumerate(data[offset:].split(b"\n")[:-1], start=2):
            offset += len(raw) + 1
            record = _parse(raw)
            if record is None or not set(record) <= _FIELDS or "item" not in record:
                bad = bad or number
                continue
            if bad is not None:
                raise LedgerError(f"{self.path}: line {bad} is unreadable but later lines are "
                                  "not; the ledger was damaged, not cut short by a crash. "
                                  "Repair it or move it aside before rerunning.")
            self.entries.append(self._checked(record, number))
            keep = offset
        if keep != len(data):  # a torn last write (or unreadable records only at the end)
            with self.path.open("r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())

    def _checked(self, record: dict, number: int) -> Annotation:
        """A complete record whose values are not an answer is damage, not a torn write."""
        try:
            answer = Annotation(**record)
        except TypeError as err:
            raise LedgerError(f"{self.path}: line {number}: {err}") from None
        top = self.n_classes if self.n_classes is not None else math.inf
        problems = [
            (answer.action in ACTIONS, f"action {answer.action!r}, expected one of {ACTIONS}"),
            (answer.outcome in OUTCOMES, f"outcome {answer.outcome!r}, expected one of "
                                         f"{OUTCOMES}"),
            (isinstance(answer.label, int) and (answer.label == NO_LABEL
                                                or 0 <= answer.label < top),
             f"label {answer.label!r}, expected -1 or a class index below {top}"),
            (isinstance(answer.cost, int | float) and math.isfinite(answer.cost)
             and answer.cost >= 0, f"cost {answer.cost!r}, expected a non-negative number"),
            (isinstance(answer.round, int) and answer.round >= 0,
             f"round {answer.round!r}, expected a non-negative integer"),
        ]
        for ok, what in problems:
            if not ok:
                raise LedgerError(f"{self.path}: line {number}: {what}; the ledger was edited "
                                  "or damaged. Repair it or move it aside before rerunning.")
        return answer

    def _write_line(self, record: dict) -> None:
        with self.path.open("ab") as fh:
            fh.write(json.dumps(record, sort_keys=True).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, annotations: Iterable[Annotation]) -> None:
        for annotation in annotations:
            self.start()
            self._write_line(asdict(annotation))
            self.entries.append(annotation)

    def lookup(self) -> dict[tuple[str, str], Annotation]:
        """The answer to each (item, action) asked so far."""
        return {a.key: a for a in self.entries}

    @property
    def total_cost(self) -> float:
        return float(sum(a.cost for a in self.entries))

    def cost_of(self, first: int, last: int | None = None) -> float:
        """What the answers bought in rounds ``first`` .. ``last`` (only ``first`` by default)
        cost: the one record of what a run spent.
        """
        last = first if last is None else last
        return float(sum(a.cost for a in self.entries if first <= a.round <= last))


def _parse(raw: bytes) -> dict | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
