"""``train@domain``: fit the fixed downstream recipe on every constructed dataset of the domain
and score it (robustness, fairness, cost, size, compute) into each cell's DVC metrics files.

One process per domain pays the Lightning import (~7 s) once, and ``grid.workers`` forked
workers train cells at once. A cell whose inputs (dataset, construction summary, resolved
params, code, evaluation splits) and outputs (model, metrics, groups) match its stamp is not
retrained, so a change to one method retrains that method's cells only, and a damaged or edited
output is refitted rather than trusted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import hardware, modalities
from benchmark.closure import code_digest
from benchmark.config import Params, load_params
from benchmark.data import DomainData, Split, load_domain, load_split
from benchmark.evaluation.evaluate import EVAL_SPLITS
from benchmark.io import atomic_write_json, atomic_write_text, read_json, sweep_temp_files
from benchmark.paths import (
    CONSTRUCTION,
    CURVE,
    DATASET,
    GROUPS,
    METRICS,
    MODEL,
    TIMING,
    cell_data_dir,
    cell_name,
    result_dir,
    run_dir,
)
from benchmark.stages import (
    digest,
    domain_cells_args,
    grid_cells,
    per_seed,
    run,
    run_cells,
    up_to_date,
    write_stamp,
)

_JOB: dict[str, Any] = {}  # what every cell of this stage shares; forked workers inherit it
STAMP = "train.stamp"  # digest of a cell's inputs, written last: a matching one means done


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_cells_args(__doc__, argv)
    from benchmark.evaluation import downstream  # noqa: F401  heavy (Lightning): after argument checks
    from benchmark.tracking import Tracker  # noqa: F401

    params = load_params()
    hardware.configure(params.hardware)  # before anything is written
    # cells that fit a label-efficiency curve (several fits) start first
    cells = grid_cells(params.grid, args.domain, args.method, args.seed,
                       light={m for m in params.grid.methods if not params.fits_curve(m)})
    redraw = params.replicates.redraw
    data = per_seed([s for _, s in cells], not redraw,  # a seed's own draw, or the domain's
                    lambda seed: load_domain(cell_data_dir(args.domain, seed, redraw)))
    _JOB.update(params=params, data=data, domain=args.domain,
                code=code_digest(["benchmark.stages.train", *{
                    modalities.code_module(d.modality) for d in data.values()}]),
                data_digest={seed: digest([hashlib.sha256(
                    d[s].x.tobytes() + d[s].y.tobytes() + d[s].group.tobytes()).hexdigest()
                    for s in EVAL_SPLITS]) for seed, d in data.items()})
    run_cells(train_cell, cells, params.grid.cells_at_once())


def stamp(domain: str, method: str, seed: int) -> str:
    """Everything a cell's model and metrics depend on."""
    params, runs = _JOB["params"], run_dir(domain, method, seed)
    files = [hashlib.sha256((runs / name).read_bytes()).hexdigest()
             for name in (DATASET, CONSTRUCTION)]
    return digest({"inputs": files, "cell": params.cell(domain, method, seed),
                   "tracking": asdict(params.tracking), "code": _JOB["code"],
                   "data": _JOB["data_digest"][seed]})


def train_cell(method: str, seed: int) -> None:
    """Fit and score one cell unless its stamp says its inputs have not changed."""
    from benchmark.evaluation import downstream, mitigation
    from benchmark.evaluation.evaluate import score
    from benchmark.tracking import Tracker, group_of

    params, data, domain = _JOB["params"], _JOB["data"][seed], _JOB["domain"]
    runs, out = run_dir(domain, method, seed), result_dir(domain, method, seed)
    current = stamp(domain, method, seed)
    if up_to_date(out / STAMP, current, out / METRICS, out / MODEL, out / GROUPS):
        return
    sweep_temp_files(out)
    for stray in out.glob(".ckpt-*"):  # checkpoint folders of a killed fit
        shutil.rmtree(stray, ignore_errors=True)
    dataset = load_split(runs / DATASET)
    construction = read_json(runs / CONSTRUCTION, f"dvc repro construct@{domain}")
    name = cell_name(domain, method, seed)
    config = params.cell(domain, method, seed)
    # W&B group and run names carry the experiment (or DVC's name for `dvc exp run -n X`)
    group = group_of(params.grid.experiment, params.profile)
    with Tracker(params.tracking.project, params.tracking.mode, group, f"{group}/{name}",
                 f"{name}--{digest(config)[:8]}", config, entity=params.tracking.entity,
                 tags=[domain, method, params.profile]) as tracker:
        tracker.log_rounds(construction["rounds"])
        start = time.perf_counter()
        model = downstream.fit(dataset, data["val"], data.modality, data.n_classes,
                               params.train, seed, out / MODEL, tracker.logger,
                               name=f"train {name}")
        trained = time.perf_counter()
        post = params.postprocess(method)
        if post is None:
            metrics, groups = score(lambda x: downstream.predict(model, x), data)
        elif (why := mitigation.unavailable(data.n_classes, data["val"])) is None:
            predict = mitigation.threshold_optimizer(lambda x: downstream.proba(model, x),
                                                     data["val"], seed)
            metrics, groups = score(predict, data, grouped=True)
        else:  # no scores rather than the plain model's under the entry's name
            metrics, groups = {f"postprocess/{post}_{why}": 1.0}, []
        metrics.update(cell_metrics(construction, len(dataset)))
        metrics.update(composition(dataset, data))
        timing = runs / TIMING  # informational, not a dependency: see benchmark/paths.py
        if timing.is_file():
            metrics.update(read_json(timing, f"dvc repro construct@{domain}"))
        metrics.update({"compute/train_s": trained - start,
                        "compute/evaluate_s": time.perf_counter() - trained})
        tables: dict[str, list[dict[str, Any]]] = {"groups": groups}
        if params.fits_curve(method) and post is None:
            curve_start = time.perf_counter()
            tables["curve"] = label_efficiency(dataset, construction, metrics, data, params,
                                               seed, out)
            metrics["compute/curve_s"] = time.perf_counter() - curve_start
            atomic_write_text(out / CURVE, to_csv(tables["curve"]))
        else:
            (out / CURVE).unlink(missing_ok=True)
        atomic_write_json(out / METRICS, {k: round(v, 6) for k, v in sorted(metrics.items())})
        atomic_write_text(out / GROUPS, to_csv(groups))
        tracker.log_summary(metrics, tables)
    write_stamp(out / STAMP, current, out / METRICS, out / MODEL, out / GROUPS)


CURVE_METRICS = ("test_id/acc", "test_shift/acc", "test_shift/acc_wg")


def label_efficiency(dataset: Split, construction: dict[str, Any], final: dict[str, float],
                     data: DomainData, params: Params, seed: int, out: Path
                     ) -> list[dict[str, Any]]:
    """Shift accuracy against annotation cost: the recipe fitted on D as it stood before the
    first round (the seed set, cost 0) and after each round, the last point being the cell's
    own model. Rounds only append to D, so each point is a prefix of the final dataset: one
    construction run gives the whole budget sweep of an anytime loop.
    """
    from benchmark.evaluation import downstream
    from benchmark.evaluation.evaluate import score

    rounds = construction["rounds"]
    points = [(0, 0.0, int((dataset.meta["origin"] == "seed").sum()))]
    points += [(r["round"], float(r["cumulative_cost"]), int(r["dataset_size"]))
               for r in rounds]
    rows = []
    for round_, cost, size in points:
        if round_ == (rounds[-1]["round"] if rounds else 0):
            metrics = final  # the cell's own model: D after the last round
        else:
            model = downstream.fit(dataset.subset(np.arange(size)), data["val"], data.modality,
                                   data.n_classes, params.train, seed, out / ".curve.ckpt")
            metrics, _ = score(lambda x, m=model: downstream.predict(m, x), data)
            (out / ".curve.ckpt").unlink(missing_ok=True)
        rows.append({"round": round_, "cost": round(cost, 6), "size": size,
                     **{k: round(metrics[k], 6) for k in CURVE_METRICS}})
    return rows


def cell_metrics(construction: dict[str, Any], size: int) -> dict[str, float]:
    """Cost per action, make-up of the dataset and human evaluation of synthetic items."""
    actions, origin = construction.get("actions", {}), construction.get("origin", {})
    human = construction.get("human_eval", {})
    metrics = {
        "cost/annotation": float(construction["cost"]),
        "cost/underspent": float(construction.get("underspent", 0.0)),
        "cost/overspent": float(construction.get("overspent", 0.0)),
        "dataset/size": float(size),
        "dataset/human_labelled": float(origin.get("human", 0)),
        "dataset/pseudo_labelled": float(origin.get("pseudo", 0)),
        "dataset/synthetic_share": float(construction.get("synthetic_share", 0.0)),
        "human/synthetic_reviewed": float(human.get("synthetic_reviewed", 0)),
    }
    metrics.update({f"cost/{a}_n": float(actions.get(a, 0)) for a in ("label", "verify",
                                                                      "reject")})
    if human.get("synthetic_reviewed"):
        metrics.update({f"human/{k}": float(human[k])
                        for k in ("accepted", "corrected", "rejected")})
    return metrics


def composition(dataset: Split, data: DomainData) -> dict[str, float]:
    """The dataset's group make-up (``unknown`` = synthetic items) and its total-variation
    distance from the pool's: who a constructed dataset represents, beside how its model does.
    """
    from benchmark.evaluation.metrics.diversity import composition_gap, group_composition

    n = len(data.group_names)
    shares = group_composition(dataset.group, n)
    names = {str(g): name for g, name in enumerate(data.group_names)}
    out = {f"dataset/group_share/{names.get(k, k)}": v for k, v in shares.items()}
    out["dataset/composition_gap"] = composition_gap(dataset.group, data["pool"].group, n)
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


if __name__ == "__main__":
    run(main)
