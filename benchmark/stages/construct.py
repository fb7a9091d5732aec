"""``construct@domain``: run every construction method of the grid on the domain, each cell
(method, seed) under the annotation budget, ``grid.workers`` cells at once.

A cell whose resume state is complete for the same fingerprint (data, upstream models, params,
the method's and the loop's code) returns at once, so editing one method recomputes its cells
only, although DVC reruns the stage.

Outputs: the constructed dataset, a summary of the construction (cost, actions, outcomes, human
evaluation of synthetic items, rounds, time), and — kept across reruns so a killed run resumes —
the annotation ledger and the loop state.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import hardware, modalities
from benchmark.annotation import Ledger, SimulatedAnnotator
from benchmark.annotation.human import AwaitingAnswers, HumanAnnotator
from benchmark.closure import code_digest
from benchmark.config import Params, load_params
from benchmark.construction.loop import Construction, construct
from benchmark.construction.resources import Resources
from benchmark.data import DomainData, Split, load_domain, save_split
from benchmark.io import atomic_write_json, atomic_write_text, sweep_temp_files
from benchmark.method import METHODS
from benchmark.paths import (
    CONSTRUCTION,
    DATASET,
    LEDGER,
    PRETRAINED,
    QUEUE,
    STATE,
    TIMING,
    annotator_dir,
    answer_store,
    cell_data_dir,
    cell_embeddings,
    domain_dir,
    embeddings_file,
    encoder_dir,
    generator_dir,
    rounds_plot,
    run_dir,
)
from benchmark.progress import Progress
from benchmark.stages import (
    digest,
    domain_cells_args,
    files_digest,
    grid_cells,
    per_seed,
    run,
    run_cells,
)

LOOP_CODE = ["benchmark.construction.loop", "benchmark.stages.construct",
             "benchmark.construction.resources"]


def domain_digest(data: DomainData, domain: str, draw: Path | None = None) -> str:
    """What the cells of a seed share and their answers depend on: the seed, pool and val data
    (the seed's own draw's with redraws: ``draw``, its embeddings) and the upstream model files
    (embeddings, generator, judge). Hashed once per seed, before the cells fork.
    """
    content = hashlib.sha256()
    for split in ("seed", "pool", "val"):
        content.update(data[split].x.tobytes())
        content.update(data[split].y.tobytes())
    upstream = [embeddings_file(domain, PRETRAINED), generator_dir(domain), annotator_dir(domain),
                *([draw] if draw is not None else [])]
    return digest([content.hexdigest(), files_digest([p for p in upstream if p.exists()])])


def method_code(params: Params, method: str, modality: str) -> str:
    """A digest of the code a method's cells run: the method's module, the loop's and the
    domain's modality, with everything they import (read once per stage, before the cells fork).
    """
    return code_digest([METHODS.get(params.method_plugin(method)).__module__, *LOOP_CODE,
                        modalities.code_module(modality)])


def fingerprint(params: Params, shared: str, domain: str, method: str, seed: int,
                code: str) -> str:
    """Everything the answers of a run depend on: the domain's ``shared`` digest, params
    (the method's options on ``domain``), seed and the ``code`` of the method and the loop. A
    change starts a fresh ledger (the old one kept).
    """
    return digest({
        "domain": shared, "method": method, "seed": seed,
        "options": params.method_options(method, domain),
        "construct": asdict(params.construct), "annotator": asdict(params.annotator),
        "patterns": asdict(params.patterns), "generator": asdict(params.generator),
        "code": code,
    })


def resources(params: Params, data: DomainData, domain: str, seed: int) -> Resources:
    """The domain's upstream models, with the embeddings of the seed's own draw if it has one."""
    return Resources(data.modality, data.input_shape, embeddings_file(domain, PRETRAINED),
                     encoder_dir(domain), generator_dir(domain), annotator_dir(domain),
                     params.patterns, params.generator,
                     cell_embeddings(domain, seed, params.replicates.redraw))


_JOB: dict[str, Any] = {}  # what every cell of this stage shares; forked workers inherit it


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_cells_args(__doc__, argv)
    params = load_params()
    hardware.configure(params.hardware)  # before anything is written
    # unknown methods fail here, in one line
    light = {m for m in params.grid.methods if not METHODS.get(params.method_plugin(m)).upstream}
    cells = grid_cells(params.grid, args.domain, args.method, args.seed, light)
    kind = load_domain(domain_dir(args.domain), splits=()).modality  # the card only
    code = {method: method_code(params, method, kind) for method in {m for m, _ in cells}}
    redraw = params.replicates.redraw

    def inputs(seed: int) -> tuple[DomainData, str]:  # a seed's own draw, or the domain's
        data = load_domain(cell_data_dir(args.domain, seed, redraw),
                           splits=("seed", "pool", "val"))
        return data, domain_digest(data, args.domain, cell_embeddings(args.domain, seed, redraw))

    loaded = per_seed([s for _, s in cells], not redraw, inputs)
    _JOB.update(params=params, domain=args.domain, code=code,
                data={s: d for s, (d, _) in loaded.items()},
                shared={s: h for s, (_, h) in loaded.items()})
    heavy = {m for m, _ in cells} - light
    _warm_imports(heavy)
    _check_upstream(params, args.domain, cells, heavy)
    waiting = [w for w in run_cells(construct_cell, cells, params.grid.cells_at_once()) if w]
    if waiting:
        sys.exit("waiting: " + "\n".join(waiting))


def _check_upstream(params: Params, domain: str, cells: list[tuple[str, int]],
                    heavy: set[str]) -> None:
    """Open every upstream file the cells will read (milliseconds) before any cell starts: a
    damaged one ends the stage in one line naming it and the command that rebuilds it, before
    a cell could move a ledger aside or buy an answer.
    """
    for seed in sorted({s for _, s in cells}):
        res = resources(params, _JOB["data"][seed], domain, seed)
        res.embeddings  # noqa: B018  (read and checked on access)
    if heavy:  # methods that call on the upstream models
        res.encoder, res.generator, res.judge  # noqa: B018


def _warm_imports(heavy: set[str]) -> None:
    """Import what the cells will need once, before forking, so no worker pays for it (and no
    import lands inside a cell's ``compute/construct_s``)."""
    import benchmark.evaluation.metrics.diversity  # noqa: F401  (the round metrics: fairlearn)

    if heavy:
        import benchmark.construction.acquisition  # noqa: F401
        import benchmark.upstream.encoders  # noqa: F401
        import benchmark.upstream.generators  # noqa: F401


def construct_cell(method_name: str, seed: int) -> str | None:
    """Run (or resume, or find complete) one cell; a message if it waits for people."""
    params, data, domain = _JOB["params"], _JOB["data"][seed], _JOB["domain"]
    start = time.perf_counter()
    method = METHODS.get(params.method_plugin(method_name))(
        **params.method_options(method_name, domain))
    out = run_dir(domain, method_name, seed)
    sweep_temp_files(out)  # left by a killed run (state, dataset); the ledger resumes itself
    plot = rounds_plot(domain, method_name, seed)  # in a folder the domain's cells share
    sweep_temp_files(plot.parent, plot.name)
    ledger = Ledger(out / LEDGER, fingerprint(params, _JOB["shared"][seed], domain, method_name,
                                              seed, _JOB["code"][method_name]), data.n_classes)
    res = resources(params, data, domain, seed)
    pool = data["pool"]
    costs = asdict(params.annotator.costs)
    if params.annotator.name == "human":  # real people, through Label Studio
        annotator: Any = HumanAnnotator(ledger, costs, out / QUEUE, data.modality,
                                        data.class_names, answer_store(domain))
    else:
        annotator = SimulatedAnnotator(
            {f"pool:{i}": int(y) for i, y in enumerate(pool.y)}, data.n_classes, ledger, costs,
            params.annotator.error_rate, seed, params.annotator.name, _LazyJudge(res))
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)  # methods never see pool labels
    name = f"{domain}/{method_name}/seed{seed}"
    try:
        result = construct(method, data["seed"], hidden, data["val"], data.n_classes,
                           annotator, params.construct, seed, out / STATE, res,
                           _Progress(name, params), pool.meta.get("pattern"),
                           params.patterns.rare_ratio)
    except AwaitingAnswers as waiting:
        return str(waiting)
    ledger.start()  # a run that bought nothing still owns its ledger
    save_split(result.dataset, out / DATASET)
    atomic_write_json(out / CONSTRUCTION, summary(result, ledger, params.construct.budget))
    atomic_write_text(plot, rounds_csv(result.rounds))
    # timing apart from the summary: an identical dataset must not rerun training
    atomic_write_json(out / TIMING, {"compute/construct_s": round(time.perf_counter() - start,
                                                                   3)})
    return None


class _LazyJudge:
    """Loads the judge (encoder, reference embeddings) only when a synthetic item is judged."""

    def __init__(self, res: Resources) -> None:
        self.res = res

    def review(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.res.judge.review(x)


class _Progress:
    """A bar of rounds and cost spent on a terminal; one plain line per round in logs."""

    def __init__(self, name: str, params: Params) -> None:
        self.budget = params.construct.budget
        self.bar = Progress(f"construct {name}", params.construct.rounds, "round")

    def __call__(self, log: dict[str, Any]) -> None:
        self.bar.update(log["round"], f"cost {log['cumulative_cost']:.1f}/{self.budget:g}, "
                                      f"|D| {log['dataset_size']}")


ROUND_COLUMNS = ("cumulative_cost", "dataset_size", "synthetic_share", "probe_val_acc",
                 "cluster_entropy", "cluster_effective", "vendi", "precision", "recall",
                 "density", "coverage", "label_issue_rate", "committee_consistency",
                 "composition_gap", "harness/label_accuracy", "method/committee_val_acc")
HUMAN_COLUMNS = {"accept_rate": "accepted", "correct_rate": "corrected",
                 "reject_rate": "rejected"}


def rounds_csv(rounds: list[dict[str, Any]]) -> str:
    """The DVC plot of the construction per round: cost, size, diversity, quality, group gap
    and the human evaluation of synthetic items (empty where a value is missing or nan).
    """
    lines = [",".join(("round", *ROUND_COLUMNS, *HUMAN_COLUMNS))]
    for log in rounds:
        human = log.get("human_eval", {})
        rates = [human[k] if human.get("n") else "" for k in HUMAN_COLUMNS.values()]
        values = [log.get(c, "") for c in ROUND_COLUMNS]
        cells = ["" if isinstance(v, float) and v != v else str(v)  # nan -> empty
                 for v in (log["round"], *values, *rates)]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def summary(result: Construction, ledger: Ledger, budget: float) -> dict[str, Any]:
    """construction.json: cost (the ledger's: every answer bought), actions, outcomes, make-up
    of D, human evaluation, rounds.
    """
    data, entries, cost = result.dataset, ledger.entries, ledger.total_cost
    synthetic = [a for a in entries if a.item.startswith("synth:")]
    n_syn = max(len(synthetic), 1)
    return {
        "cost": round(cost, 6), "budget": budget,
        "underspent": round(max(budget - cost, 0.0), 6),
        "overspent": round(max(cost - budget, 0.0), 6),
        "annotations": len(entries), "actions": dict(Counter(a.action for a in entries)),
        "outcomes": dict(Counter(a.outcome for a in entries)),
        "origin": dict(Counter(data.meta["origin"].tolist())),
        "dataset_size": len(data),
        "synthetic_share": float((data.meta["source"] == "synthetic").mean()),
        "human_eval": {
            "synthetic_reviewed": len(synthetic),
            "accepted": sum(a.outcome in ("accepted", "labelled", "kept")
                            for a in synthetic) / n_syn,
            "corrected": sum(a.outcome == "corrected" for a in synthetic) / n_syn,
            "rejected": sum(a.outcome == "rejected" for a in synthetic) / n_syn},
        "stop_reason": result.stop_reason, "rounds": result.rounds,
    }


if __name__ == "__main__":
    run(main)
