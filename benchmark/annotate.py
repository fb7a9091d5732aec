"""Hand a round's requests to people in Label Studio and bring their answers back.

``python -m benchmark.annotate export QUEUE.npz OUT.json [--media DIR]`` writes the tasks to
import into a Label Studio project (and its ``label_config.xml``);
``python -m benchmark.annotate import EXPORT.json QUEUE.npz LEDGER.jsonl`` appends the answers
in the project's JSON export to the run's ledger, each request charged once at the prices of
``annotator.costs`` in the run's ``params.yaml`` (``--params``), and to the domain's answer store.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchmark.annotation.labelstudio import AnswerError, export, import_answers, read_queue
from benchmark.annotation.ledger import Ledger
from benchmark.config import load_params
from benchmark.stages import INPUT_ERRORS


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    out = sub.add_parser("export", help="write Label Studio tasks and label_config.xml")
    out.add_argument("queue")
    out.add_argument("out_json")
    out.add_argument("--media", help="write images here instead of inline data URIs")
    back = sub.add_parser("import", help="append a Label Studio JSON export to the ledger")
    back.add_argument("export_json")
    back.add_argument("queue")
    back.add_argument("ledger")
    back.add_argument("--params", default="params.yaml",
                      help="the run's params (its annotator.costs price the answers)")
    back.add_argument("--annotator", default="human")
    return parser.parse_args(argv)


def ledger_of(path: str, fingerprint: str) -> Ledger:
    """Open the run's existing ledger, refusing one of another run (never moving it aside)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: ledger not found; expected the ledger of the run that "
                                "wrote the queue (runs/<domain>/<method>/seed<s>/ledger.jsonl)")
    lines = Path(path).read_text().splitlines()
    header = json.loads(lines[0]) if lines else {}
    found = header.get("fingerprint") if isinstance(header, dict) else None
    if found != fingerprint:
        raise AnswerError(f"{path} belongs to run {str(found)[:12]}, but the queue to run "
                          f"{fingerprint[:12]}; import into the ledger of the run that asked")
    return Ledger(path, fingerprint)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    try:
        if args.command == "export":
            tasks = export(args.queue, args.out_json, args.media)
            print(f"wrote {len(tasks)} tasks to {args.out_json} (and label_config.xml beside it)")
            return
        costs = asdict(load_params(args.params).annotator.costs)
        ledger = ledger_of(args.ledger, read_queue(args.queue).fingerprint)
        added, open_, changed = import_answers(args.export_json, args.queue, ledger, costs,
                                               args.annotator)
        print(f"added {added} answers to {args.ledger}; {open_} requests still unanswered")
        if changed:
            print(f"{len(changed)} answers differ from those the run already used and paid "
                  f"({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''}): the run "
                  "keeps what it was given; the corrections are in the answer store, where "
                  "every later run (a changed one, or this cell after its ledger is moved "
                  "aside) finds them")
    except (*INPUT_ERRORS, AnswerError, json.JSONDecodeError) as err:  # a damaged ledger too
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
