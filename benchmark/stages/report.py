"""``report``: gather every cell's metrics into CSV tables, a markdown summary and charts."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from benchmark import report
from benchmark.config import load_params
from benchmark.io import atomic_write_text
from benchmark.paths import REPORTS, annotator_report
from benchmark.stages import run


def main(argv: Sequence[str] | None = None) -> None:
    del argv
    params = load_params()
    grid, conf = params.grid, params.report.confidence
    cells = report.collect(grid.domains, grid.methods, grid.seeds)
    summary = report.summarise(cells, conf)
    diffs = [report.paired(cells, params.report.baseline, m, conf) for m in params.report.metrics]
    diffs_df = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame()
    atomic_write_text(REPORTS / "results.csv", cells.to_csv(index=False))
    atomic_write_text(REPORTS / "summary.csv", summary.to_csv(index=False))
    atomic_write_text(REPORTS / "paired.csv", diffs_df.to_csv(index=False))
    judges = {d: json.loads(annotator_report(d).read_text())["judge"] for d in grid.domains
              if annotator_report(d).is_file()}
    atomic_write_text(REPORTS / "summary.md",
                      report.markdown(summary, diffs_df, conf, grid.experiment, judges))
    report.plot_robustness(summary, REPORTS / "robustness.png")


if __name__ == "__main__":
    run(main)
