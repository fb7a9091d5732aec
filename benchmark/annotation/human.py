"""Real people in the loop: answers come from the ledger, filled through Label Studio.

A request the ledger cannot answer is first looked up in the domain's answer store (every answer
people ever gave, keyed by what they saw and were asked): a rerun after a change replays it and
is charged for it as if bought. What is left goes to a queue file and the run stops;
``python -m benchmark.annotate export`` turns the queue into Label Studio tasks and
``... import`` appends the people's answers to the ledger. Rerunning ``construct`` replays the
round (same seed, same requests) and carries on with their answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchmark.annotation.ledger import Annotation, Ledger, Request, content_digest, price
from benchmark.annotation.store import AnswerStore


class AwaitingAnswers(RuntimeError):
    """The round's requests were written to a queue for people; rerun after importing."""


class HumanAnnotator:
    """Answers from the ledger, then the answer store; the rest become a Label Studio queue."""

    def __init__(self, ledger: Ledger, costs: Mapping[str, float], queue: str | Path,
                 modality: str, class_names: Sequence[str],
                 store: str | Path | None = None) -> None:
        self.ledger, self.costs, self.queue = ledger, dict(costs), Path(queue)
        self.modality, self.class_names = modality, list(class_names)
        self.store = AnswerStore(store) if store is not None else None

    def review(self, requests: Sequence[Request], x: np.ndarray, synthetic: np.ndarray,
               round_: int) -> list[Annotation]:
        from benchmark.annotation.labelstudio import write_queue

        known = self.ledger.lookup()
        missing = [i for i, r in enumerate(requests) if r.key not in known]
        stored = self.store.answers() if self.store is not None and missing else {}
        replayed = []
        for i in missing:
            req, digest = requests[i], content_digest(x[i])
            answer = stored.get((digest, req.action, int(req.proposed)))
            if answer is not None:  # charged as if bought: equal budgets stay equal
                replayed.append(Annotation(
                    req.item, req.action, int(answer["label"]),
                    price(req.action, answer["outcome"], self.costs), round_,
                    str(answer["annotator"]), str(answer["outcome"]), req.proposed, digest))
        self.ledger.append(replayed)
        known = self.ledger.lookup()
        missing = [i for i in missing if requests[i].key not in known]
        if missing:
            self.ledger.start()  # the answers will be imported into this run's ledger
            write_queue(self.queue, [requests[i] for i in missing], x[missing],
                        np.asarray(synthetic)[missing], round_, self.ledger.fingerprint,
                        self.modality, self.class_names,
                        self.store.path if self.store is not None else None)
            raise AwaitingAnswers(
                f"round {round_}: {len(missing)} requests wait for people in {self.queue}; "
                f"`python -m benchmark.annotate export {self.queue} tasks.json`, answer them in "
                f"Label Studio, `python -m benchmark.annotate import <export.json> {self.queue} "
                f"{self.ledger.path}`, then rerun")
        return [known[r.key] for r in requests]
