"""The append-only annotation ledger: one JSON line per human action, fsynced as it is written.

The first line is a header holding a fingerprint of everything the annotations depend on (data,
method, budget, seed). A ledger with the same fingerprint is resumed, so a killed run never pays
for an annotation twice or loses one; a ledger with another fingerprint belongs to an outdated
run and is moved aside (never deleted) before a fresh one starts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

ACTIONS = ("label",)


@dataclass(frozen=True)
class Annotation:
    """One human action on one item: what was done, the label given, and what it cost."""

    item: str
    action: str
    label: int
    cost: float
    round: int
    annotator: str


class Ledger:
    """Append-only JSONL record of every annotation of one run."""

    def __init__(self, path: str | Path, fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.entries: list[Annotation] = []
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            lines = self.path.read_bytes().split(b"\n")
            header = _parse(lines[0])
            if header is not None and header.get("fingerprint") == self.fingerprint:
                self._resume(lines)
                return
            self.path.replace(self.path.with_name(f"{self.path.name}.stale"))
        self._write_line({"ledger": 1, "fingerprint": self.fingerprint})

    def _resume(self, lines: list[bytes]) -> None:
        """Keep every complete line; drop a line cut short by a crash mid-write."""
        complete = 1
        for raw in lines[1:]:
            record = _parse(raw)
            if record is None:
                break
            self.entries.append(Annotation(**record))
            complete += 1
        good = b"\n".join(lines[:complete]) + b"\n"
        if good != self.path.read_bytes():
            with self.path.open("r+b") as fh:
                fh.truncate(len(good))

    def _write_line(self, record: dict) -> None:
        with self.path.open("ab") as fh:
            fh.write(json.dumps(record, sort_keys=True).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, annotations: Iterable[Annotation]) -> None:
        for annotation in annotations:
            self._write_line(asdict(annotation))
            self.entries.append(annotation)

    def lookup(self) -> dict[str, Annotation]:
        """The latest annotation of each item."""
        return {a.item: a for a in self.entries}

    @property
    def total_cost(self) -> float:
        return float(sum(a.cost for a in self.entries))


def _parse(raw: bytes) -> dict | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
