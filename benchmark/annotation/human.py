"""Real people in the loop: answers come from the ledger, filled through Label Studio.

When a round asks something the ledger cannot answer, the requests go to a queue file and the
run stops; ``python -m benchmark.annotate export`` turns the queue into Label Studio tasks and
``... import`` appends the people's answers to the ledger. Rerunning ``construct`` replays the
round (same seed, same requests) and carries on with their answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchmark.annotation.ledger import Annotation, Ledger, Request


class AwaitingAnswers(RuntimeError):
    """The round's requests were written to a queue for people; rerun after importing."""


class HumanAnnotator:
    """Answers from the ledger only; unanswered requests become a Label Studio queue."""

    def __init__(self, ledger: Ledger, costs: Mapping[str, float], queue: str | Path,
                 modality: str, class_names: Sequence[str]) -> None:
        self.ledger, self.costs, self.queue = ledger, dict(costs), Path(queue)
        self.modality, self.class_names = modality, list(class_names)

    def review(self, requests: Sequence[Request], x: np.ndarray, synthetic: np.ndarray,
               round_: int) -> list[Annotation]:
        from benchmark.annotation.labelstudio import write_queue

        known = self.ledger.lookup()
        missing = [i for i, r in enumerate(requests) if r.key not in known]
        if missing:
            write_queue(self.queue, [requests[i] for i in missing], x[missing],
                        np.asarray(synthetic)[missing], round_, self.ledger.fingerprint,
                        self.modality, self.class_names)
            raise AwaitingAnswers(
                f"round {round_}: {len(missing)} requests wait for people in {self.queue}; "
                f"`python -m benchmark.annotate export {self.queue} tasks.json`, answer them in "
                f"Label Studio, `python -m benchmark.annotate import <export.json> {self.queue} "
                f"{self.ledger.path}`, then rerun")
        return [known[r.key] for r in requests]
