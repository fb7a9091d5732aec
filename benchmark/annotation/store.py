"""Every answer people ever gave, per domain, append-only: what outlives a changed run.

A run's ledger is the record of what that run asked and paid; it belongs to one fingerprint and
is moved aside when a change gives the cell another. The store is keyed by what a person saw and
was asked (the item's content digest, the action, the proposed label), not by the run, so a rerun
after any change replays every answer it can find here (the run is charged for it as if bought:
budgets stay equal) and sends only new questions to people. Nothing in the project deletes or
rewrites a store: records are only appended, each fsynced; a later answer to the same question
(a person's correction) is appended too and wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from benchmark.annotation.ledger import Annotation, LedgerError

Key = tuple[str, str, int]  # (content digest, action, proposed label)
_ANSWER = ("label", "outcome", "annotator")


class AnswerStore:
    """One domain's append-only JSONL of human answers, keyed by :data:`Key`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def answers(self) -> dict[Key, dict]:
        """The latest answer to each question asked so far (empty without a store)."""
        if not self.path.is_file():
            return {}
        latest: dict[Key, dict] = {}
        lines = self.path.read_bytes().split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                key = (str(record["digest"]), str(record["action"]), int(record["proposed"]))
                latest[key] = {k: record[k] for k in _ANSWER}
            except (ValueError, TypeError, KeyError) as err:
                if number == len(lines):
                    break  # an unterminated last line: a torn write, never a complete answer
                raise LedgerError(f"{self.path}: line {number} is not an answer record "
                                  f"({err!r}); the store was edited or damaged") from None
        return latest

    def add(self, annotations: Iterable[Annotation]) -> int:
        """Append the answers that are new or differ from the latest one stored (a person's
        correction); the number appended. Answers without a content digest cannot be keyed.
        """
        latest = self.answers()
        fresh = []
        for a in annotations:
            if not a.digest:
                continue
            key = (a.digest, a.action, int(a.proposed))
            answer = {"label": int(a.label), "outcome": a.outcome, "annotator": a.annotator}
            if latest.get(key) != answer:
                fresh.append({"digest": a.digest, "action": a.action,
                              "proposed": int(a.proposed), **answer})
                latest[key] = answer
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._cut_torn_tail()
            with self.path.open("ab") as fh:
                for record in fresh:
                    fh.write(json.dumps(record, sort_keys=True).encode() + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
        return len(fresh)

    def _cut_torn_tail(self) -> None:
        """Before appending: an unterminated last line that is a whole record (written by
        hand, say) gets its newline; one a crash cut short mid-write is cut, never more.
        """
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if not data or data.endswith(b"\n"):
            return
        tail = data[data.rfind(b"\n") + 1:]
        try:
            whole = isinstance(json.loads(tail), dict)
        except ValueError:
            whole = False
        with self.path.open("r+b") as fh:
            if whole:
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n")
            else:
                fh.truncate(len(data) - len(tail))
            fh.flush()
            os.fsync(fh.fileno())
