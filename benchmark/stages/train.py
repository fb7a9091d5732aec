"""``train@domain``: fit the fixed downstream recipe on every constructed dataset of the domain
and score it (robustness, fairness, cost, size, compute) into each cell's DVC metrics files.

One process per domain pays the Lightning import (~7 s) once, and ``grid.workers`` forked
workers train cells at once. A cell whose inputs (dataset, construction summary, resolved
params, code, evaluation splits) match its stamp is not retrained, so a change to one method
retrains that method's cells only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from benchmark.closure import code_digest
from benchmark.config import load_params
from benchmark.data import load_domain, load_split
from benchmark.evaluate import EVAL_SPLITS
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
from benchmark.stages import digest, domain_cells_args, grid_cells, run, run_cells

_JOB: dict[str, Any] = {}  # what every cell of this stage shares; forked workers inherit it
STAMP = "train.stamp"  # digest of a cell's inputs, written last: a matching one means done


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_cells_args(__doc__, argv)
    from benchmark import downstream  # noqa: F401  heavy (Lightning): after argument checks
    from benchmark.tracking import Tracker  # noqa: F401

    params = load_params()
    cells = grid_cells(params.grid, args.method, args.seed)
    data = load_domain(domain_dir(args.domain))
    _JOB.update(params=params, data=data, domain=args.domain,
                code=code_digest(["benchmark.stages.train"]),
                data_digest=digest([hashlib.sha256(data[s].x.tobytes() + data[s].y.tobytes()
                                                   + data[s].group.tobytes()).hexdigest()
                                    for s in EVAL_SPLITS]))
    run_cells(train_cell, cells, params.grid.workers)


def stamp(domain: str, method: str, seed: int) -> str:
    """Everything a cell's model and metrics depend on."""
    params, runs = _JOB["params"], run_dir(domain, method, seed)
    files = [hashlib.sha256((runs / name).read_bytes()).hexdigest()
             for name in (DATASET, CONSTRUCTION)]
    return digest({"inputs": files, "cell": params.cell(domain, method, seed),
                   "tracking": asdict(params.tracking), "code": _JOB["code"],
                   "data": _JOB["data_digest"]})


def train_cell(method: str, seed: int) -> None:
    """Fit and score one cell unless its stamp says its inputs have not changed."""
    from benchmark import downstream
    from benchmark.evaluate import score
    from benchmark.tracking import Tracker

    params, data, domain = _JOB["params"], _JOB["data"], _JOB["domain"]
    runs, out = run_dir(domain, method, seed), result_dir(domain, method, seed)
    current = stamp(domain, method, seed)
    if (out / STAMP).is_file() and (out / STAMP).read_text() == current and (
            out / METRICS).is_file() and (out / MODEL).is_file():
        return
    sweep_temp_files(out)
    for stray in out.glob(".ckpt-*"):  # checkpoint folders of a killed fit
        shutil.rmtree(stray, ignore_errors=True)
    dataset = load_split(runs / DATASET)
    construction = json.loads((runs / CONSTRUCTION).read_text())
    name = cell_name(domain, method, seed)
    config = params.cell(domain, method, seed)
    with Tracker(params.tracking.project, params.tracking.mode, params.grid.experiment, name,
                 f"{name}--{digest(config)[:8]}", config, entity=params.tracking.entity,
                 tags=[domain, method]) as tracker:
        tracker.log_rounds(construction["rounds"])
        start = time.perf_counter()
        model = downstream.fit(dataset, data["val"], data.modality, data.n_classes,
                               params.train, seed, out / MODEL, tracker.logger)
        trained = time.perf_counter()
        metrics, groups = score(lambda x: downstream.predict(model, x), data)
        metrics.update(cell_metrics(construction, len(dataset), data.info))
        timing = runs / TIMING  # informational, not a dependency: see benchmark/paths.py
        if timing.is_file():
            metrics.update(json.loads(timing.read_text()))
        metrics.update({"compute/train_s": trained - start,
                        "compute/evaluate_s": time.perf_counter() - trained})
        atomic_write_json(out / METRICS, {k: round(v, 6) for k, v in sorted(metrics.items())})
        atomic_write_text(out / GROUPS, to_csv(groups))
        tracker.log_summary(metrics, {"groups": groups})
    atomic_write_text(out / STAMP, current)


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
