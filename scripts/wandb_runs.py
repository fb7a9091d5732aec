"""List the W&B offline runs on disk, read back from their run files (offline runs write no
summary or config files): group, job type, name, whether it finished, and a headline number.

    python scripts/wandb_runs.py                 # ./wandb (every experiment's runs land there)
    python scripts/wandb_runs.py --group main-quick --metric test_shift/acc_wg
    python scripts/wandb_runs.py --json > runs.json

The runs stay on disk across reruns and profiles (a rerun of an unchanged cell replaces only
its own run), so this is what ``wandb sync wandb/offline-run-*`` would upload.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.tracking import offline_runs  # noqa: E402

HEADLINE = {"train": "test_shift/acc", "patterns": "pretrained/kmeans/rare_lift",
            "generator": "targeting/acc", "annotator": "judge/val/acc", "pretrain": "loss/last"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, help="wandb folders (default: ./wandb"
                        " and any .experiments/*/wandb that is a folder of its own)")
    parser.add_argument("--group", help="only runs of this group (e.g. main-quick)")
    parser.add_argument("--metric", help="summary key to show (default: one per job type)")
    parser.add_argument("--json", action="store_true", help="every run in full, as JSON")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    folders = args.folders or [Path("wandb"), *sorted(Path(".experiments").glob("*/wandb"))]
    runs = [r for r in offline_runs(*folders) if not args.group or r["group"] == args.group]
    if args.json:
        print(json.dumps(runs, indent=1, default=str))
        return
    for group, n in sorted(Counter(r["group"] for r in runs).items()):
        print(f"# {group}: {n} runs")
    print(f"{'group':<28} {'job':<10} {'name':<52} {'exit':>4} {'metric':<18} value")
    for r in sorted(runs, key=lambda r: (r["group"], r["job_type"], r["name"])):
        key = args.metric or HEADLINE.get(r["job_type"], "")
        value = _get(r["summary"], key)
        shown = f"{value:.4f}" if isinstance(value, (int, float)) else "-"
        print(f"{r['group']:<28} {r['job_type']:<10} {r['name']:<52} "
              f"{'-' if r['exit'] is None else r['exit']:>4} {key:<18} {shown}")


def _get(summary: dict, key: str) -> object:
    """A summary value by its ``a/b`` key, whether W&B kept it flat or nested."""
    if key in summary:
        return summary[key]
    node: object = summary
    for part in key.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


if __name__ == "__main__":
    main()
