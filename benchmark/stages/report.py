"""``report``: gather every cell's metrics into CSV tables, a markdown summary and charts:
robustness per method, per-group accuracy, metrics by construction round and, where cells fitted
their label-efficiency curves (``train.curve``), accuracy against cost and the cost saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from benchmark import tuning
from benchmark.config import Params, load_params
from benchmark.evaluation import report
from benchmark.io import atomic_write_json, atomic_write_text, read_json
from benchmark.paths import (
    FIGURES,
    GROUPS,
    METRIC_TABLES,
    REPORTS,
    annotator_report,
    result_dir,
    rounds_plot,
)
from benchmark.stages import run

ROUND_PANELS = ("probe_val_acc", "cluster_entropy", "coverage", "cumulative_cost")
DVC_ROUND_PLOTS = ("cumulative_cost", "dataset_size", "accept_rate", "probe_val_acc")


def main(argv: Sequence[str] | None = None) -> None:
    del argv
    params = load_params()
    grid, conf, rep = params.grid, params.report.confidence, params.report
    coords = (grid.domains, grid.methods, {d: grid.seeds_of(d) for d in grid.domains})
    cells, tuned = report.collect(*coords), pd.DataFrame()
    if grid.tune:  # each tuned entry's best setting on val, under the entry's name
        cells, tuned = tuning.select(cells, params.tuning.metric, params.tuning.grids)
    elif params.tuning.chosen:  # chosen on tuning replicates of their own
        tuned = tuning.chosen_table(params.tuning.chosen, params.tuning.metric)
    chosen = _chosen(cells)
    baselines = reference_methods(params, cells)
    summary = report.summarise(cells, conf)
    diffs = [report.paired(cells, baselines, m, conf, rep.target_halfwidth)
             for m in rep.metrics]
    diffs_df = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame()
    curves = chosen(report.collect_curves(*coords))
    references = [baselines] if not rep.cost_references else [
        dict.fromkeys(grid.domains, ref) for ref in rep.cost_references]
    saved_parts = [report.savings(curves, cells, ref, rep.metrics[0], conf)
                   for ref in references]
    saved = pd.concat(saved_parts, ignore_index=True)
    atomic_write_text(REPORTS / "results.csv", cells.to_csv(index=False))
    atomic_write_text(REPORTS / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(REPORTS / "paired.csv", diffs_df.to_csv(index=False))
    atomic_write_text(REPORTS / "cost_saved.csv", saved.to_csv(index=False))
    atomic_write_text(REPORTS / "tuning.csv", tuned.to_csv(index=False))
    compact = report.compact(summary)
    for stale in METRIC_TABLES.glob("*.json"):  # a domain no longer in the grid
        if stale.stem not in compact:
            stale.unlink()
    for domain, table in compact.items():  # what `dvc metrics show` prints
        atomic_write_json(METRIC_TABLES / f"{domain}.json", table)
    judges = {d: read_json(annotator_report(d), f"dvc repro annotator@{d}")["judge"]
              for d in grid.domains
              if annotator_report(d).is_file()}
    strongest = baselines if rep.baseline == "strongest" else {}
    atomic_write_text(REPORTS / "summary.md", report.markdown(
        summary, diffs_df, conf, grid.experiment, judges, saved, transfer_notes(params),
        tuned, strongest, params.tuning.metric))
    for stale in FIGURES.glob("*.png"):  # a figure this grid no longer draws must not linger
        stale.unlink()
    report.plot_robustness(summary, FIGURES / "robustness.png")
    groups = chosen(report.collect_tables(*coords,
                                          lambda d, m, s: result_dir(d, m, s) / GROUPS))
    if not groups.empty:
        report.plot_groups(groups, "test_shift", FIGURES / "groups.png")
    rounds = chosen(report.collect_tables(*coords, rounds_plot))
    atomic_write_text(REPORTS / "rounds.csv", report.by_round(rounds, DVC_ROUND_PLOTS)
                      .to_csv(index=False))  # dvc.yaml's plots: a line per method and domain
    if not rounds.empty:
        report.plot_rounds(rounds, ROUND_PANELS, FIGURES / "rounds.png")
    if not curves.empty:
        report.plot_label_efficiency(curves, rep.metrics[0], FIGURES / "label_efficiency.png")


def reference_methods(params: Params, cells: pd.DataFrame) -> dict[str, str]:
    """Per domain, the method the paired differences are taken against: ``report.baseline``,
    or with ``strongest`` the baseline (a method not under ``report.study``) with the best mean
    ``tuning.metric`` on ``val``.
    """
    rep = params.report
    if rep.baseline != "strongest":
        return dict.fromkeys(params.grid.domains, rep.baseline)
    study = {params.method_plugin(m) for m in rep.study}
    entries = dict.fromkeys(tuning.entry_of(m) for m in params.grid.methods)
    baselines = [m for m in entries if params.method_plugin(m) not in study]
    return tuning.strongest(cells, baselines, params.tuning.metric)


def _chosen(cells: pd.DataFrame) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A filter for per-cell tables: the rows of the kept cells (the chosen settings), under
    their entries' names.
    """
    own = cells["variant"] if "variant" in cells else cells["method"]
    kept = dict(zip(zip(cells.domain, own, cells.seed, strict=True), cells.method, strict=True))

    def keep(table: pd.DataFrame) -> pd.DataFrame:
        if table.empty:
            return table
        keys = list(zip(table.domain, table.method, table.seed, strict=True))
        return table[[k in kept for k in keys]].assign(method=[kept[k] for k in keys
                                                               if k in kept])
    return keep


def transfer_notes(params: Params) -> dict[str, str]:
    """Where each transfer domain's encoder and generator learnt (``transfer_from``)."""
    notes = {}
    for name in params.grid.domains:
        spec = params.domains[name]
        if spec.transfer_from is not None:
            changed = ", ".join(f"`{k}: {v}`" for k, v in spec.transfer_from.options.items())
            notes[name] = (f"**Transfer:** the encoder and the generator learnt on `{spec.source}` "
                           f"with {changed or 'the same options'} (seed "
                           f"{spec.transfer_from.seed}); the pool, the construction, the judge "
                           "and the tests are this domain's own.")
    return notes


if __name__ == "__main__":
    run(main)
