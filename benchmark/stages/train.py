"""``train@domain-method-seed``: fit the fixed downstream recipe on a constructed dataset and
score it (robustness, fairness, cost, size, compute) into the cell's DVC metrics files.

Training and scoring share one process because importing Lightning costs ~8 s per process.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import time
from collections.abc import Sequence
from typing import Any

from benchmark.config import load_params
from benchmark.data import load_domain, load_split
from benchmark.io import atomic_write_json, atomic_write_text, sweep_temp_files
from benchmark.paths import (
    CONSTRUCTION,
    DATASET,
    GROUPS,
    METRICS,
    MODEL,
    TIMING,
    cell_name,
    domain_dir,
    result_dir,
    run_dir,
)
from benchmark.stages import cell_args, digest, run


def main(argv: Sequence[str] | None = None) -> None:
    args = cell_args(__doc__, argv)
    from benchmark import downstream  # heavy (Lightning): imported after argument checks
    from benchmark.evaluate import score
    from benchmark.tracking import Tracker

    params = load_params()
    data = load_domain(domain_dir(args.domain))
    runs = run_dir(args.domain, args.method, args.seed)
    sweep_temp_files(runs)
    for stray in runs.glob(".ckpt-*"):  # checkpoint folders of a killed fit
        shutil.rmtree(stray, ignore_errors=True)
    dataset = load_split(runs / DATASET)
    construction = json.loads((runs / CONSTRUCTION).read_text())
    name = cell_name(args.domain, args.method, args.seed)
    config = params.cell(args.domain, args.method, args.seed)
    with Tracker(params.tracking.project, params.tracking.mode, params.grid.experiment, name,
                 f"{name}--{digest(config)[:8]}", config, entity=params.tracking.entity,
                 tags=[args.domain, args.method]) as tracker:
        tracker.log_rounds(construction["rounds"])
        start = time.perf_counter()
        model = downstream.fit(dataset, data["val"], data.modality, data.n_classes,
                               params.train, args.seed, runs / MODEL, tracker.logger)
        trained = time.perf_counter()
        metrics, groups = score(lambda x: downstream.predict(model, x), data)
        metrics.update(cell_metrics(construction, len(dataset), data.info))
        timing = runs / TIMING  # informational, not a dependency: see benchmark/paths.py
        if timing.is_file():
            metrics.update(json.loads(timing.read_text()))
        metrics.update({"compute/train_s": trained - start,
                        "compute/evaluate_s": time.perf_counter() - trained})
        out = result_dir(args.domain, args.method, args.seed)
        atomic_write_json(out / METRICS, {k: round(v, 6) for k, v in sorted(metrics.items())})
        atomic_write_text(out / GROUPS, to_csv(groups))
        tracker.log_summary(metrics, {"groups": groups})


def cell_metrics(construction: dict[str, Any], size: int, info: dict[str, Any]) -> dict[str, float]:
    """Cost per action, make-up of the dataset, human evaluation of synthetic items and the
    compute seconds of the stages before training.
    """
    actions, origin = construction.get("actions", {}), construction.get("origin", {})
    human = construction.get("human_eval", {})
    metrics = {
        "cost/annotation": float(construction["cost"]),
        "cost/underspent": float(construction.get("underspent", 0.0)),
        "dataset/size": float(size),
        "dataset/human_labelled": float(origin.get("human", 0)),
        "dataset/pseudo_labelled": float(origin.get("pseudo", 0)),
        "dataset/synthetic_share": float(construction.get("synthetic_share", 0.0)),
        "human/synthetic_reviewed": float(human.get("synthetic_reviewed", 0)),
        "compute/prepare_s": float(info.get("prepare_seconds", 0.0)),
    }
    metrics.update({f"cost/{a}_n": float(actions.get(a, 0)) for a in ("label", "verify",
                                                                      "reject")})
    if human.get("synthetic_reviewed"):
        metrics.update({f"human/{k}": float(human[k])
                        for k in ("accepted", "corrected", "rejected")})
    return metrics


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


if __name__ == "__main__":
    run(main)
