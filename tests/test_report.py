import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark import report


def _cells() -> pd.DataFrame:
    rows = []
    for seed, (a, b) in enumerate([(0.6, 0.5), (0.7, 0.55), (0.65, 0.6)]):
        for method, acc in (("adaptive", a), ("random", b)):
            rows.append({"domain": "d", "method": method, "seed": seed,
                         "test_shift/acc": acc, "test_shift/acc_wg": acc - 0.1})
    return pd.DataFrame(rows)


def test_summary_mean_and_t_interval() -> None:
    summary = report.summarise(_cells(), 0.95)
    row = summary[(summary.method == "adaptive") & (summary.metric == "test_shift/acc")].iloc[0]
    values = [0.6, 0.7, 0.65]
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert row["mean"] == pytest.approx(0.65) and row["n_seeds"] == 3
    assert row["ci"] == pytest.approx((high - low) / 2)


def test_paired_differences_are_per_seed() -> None:
    diffs = report.paired(_cells(), "random", "test_shift/acc", 0.95)
    (row,) = diffs.itertuples()
    assert row.method == "adaptive" and row.diff == pytest.approx(np.mean([0.1, 0.15, 0.05]))
    assert row.n_seeds == 3 and not math.isnan(row.ci)


def test_markdown_and_plot(tmp_path) -> None:
    cells = _cells()
    summary = report.summarise(cells, 0.95)
    text = report.markdown(summary, report.paired(cells, "random", "test_shift/acc", 0.95), 0.95,
                           "exp")
    assert "## d" in text and "| adaptive | 3 |" in text and "0.650 ± " in text
    report.plot_robustness(summary, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_cell_names_its_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="results/d/m/seed0/metrics.json"):
        report.collect(["d"], ["m"], [0])
