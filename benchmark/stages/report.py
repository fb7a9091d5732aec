"""``report``: gather every cell's metrics into CSV tables, a markdown summary and charts:
robustness per method, per-group accuracy, metrics by construction round and, where cells fitted
their label-efficiency curves (``train.curve``), accuracy against cost and the cost saved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from benchmark import report
from benchmark.config import Params, load_params
from benchmark.io import atomic_write_text
from benchmark.paths import FIGURES, GROUPS, REPORTS, annotator_report, result_dir, rounds_plot
from benchmark.stages import run

ROUND_PANELS = ("probe_val_acc", "cluster_entropy", "coverage", "cumulative_cost")


def main(argv: Sequence[str] | None = None) -> None:
    del argv
    params = load_params()
    grid, conf, rep = params.grid, params.report.confidence, params.report
    coords = (grid.domains, grid.methods, grid.seeds)
    cells = report.collect(*coords)
    summary = report.summarise(cells, conf)
    diffs = [report.paired(cells, rep.baseline, m, conf) for m in rep.metrics]
    diffs_df = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame()
    curves = report.collect_curves(*coords)
    saved_parts = [report.savings(curves, ref, rep.metrics[0], conf)
                   for ref in (rep.cost_references or [rep.baseline])]
    saved = pd.concat(saved_parts, ignore_index=True)
    atomic_write_text(REPORTS / "results.csv", cells.to_csv(index=False))
    atomic_write_text(REPORTS / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(REPORTS / "paired.csv", diffs_df.to_csv(index=False))
    atomic_write_text(REPORTS / "cost_saved.csv", saved.to_csv(index=False))
    judges = {d: json.loads(annotator_report(d).read_text())["judge"] for d in grid.domains
              if annotator_report(d).is_file()}
    atomic_write_text(REPORTS / "summary.md", report.markdown(
        summary, diffs_df, conf, grid.experiment, judges, saved, transfer_notes(params)))
    for stale in FIGURES.glob("*.png"):  # a figure this grid no longer draws must not linger
        stale.unlink()
    report.plot_robustness(summary, FIGURES / "robustness.png")
    groups = report.collect_tables(*coords, lambda d, m, s: result_dir(d, m, s) / GROUPS)
    if not groups.empty:
        report.plot_groups(groups, "test_shift", FIGURES / "groups.png")
    rounds = report.collect_tables(*coords, rounds_plot)
    if not rounds.empty:
        report.plot_rounds(rounds, ROUND_PANELS, FIGURES / "rounds.png")
    if not curves.empty:
        report.plot_label_efficiency(curves, rep.metrics[0], FIGURES / "label_efficiency.png")


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
