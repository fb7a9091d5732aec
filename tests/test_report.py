import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.evaluation import report


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
    diffs = report.paired(_cells(), {"d": "random"}, "test_shift/acc", 0.95)
    (row,) = diffs.itertuples()
    assert row.method == "adaptive" and row.diff == pytest.approx(np.mean([0.1, 0.15, 0.05]))
    assert row.n_seeds == 3 and not math.isnan(row.ci)


def test_markdown_and_plot(tmp_path) -> None:
    cells = _cells()
    summary = report.summarise(cells, 0.95)
    diffs = report.paired(cells, {"d": "random"}, "test_shift/acc", 0.95)
    text = report.markdown(summary, diffs, 0.95, "exp")
    assert "## d" in text and "| adaptive | 3 |" in text and "0.650 ± " in text
    report.plot_robustness(summary, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_cell_names_its_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="results/d/m/seed0/metrics.json"):
        report.collect(["d"], ["m"], {"d": [0]})


def test_paired_ci_is_exact_whatever_the_seed_order() -> None:
    cells = _cells()
    shuffled = cells.sample(frac=1.0, random_state=3).reset_index(drop=True)
    (row,) = report.paired(shuffled, {"d": "random"}, "test_shift/acc", 0.95).itertuples()
    diffs = np.array([0.1, 0.15, 0.05])
    half = stats.t.ppf(0.975, 2) * diffs.std(ddof=1) / math.sqrt(3)
    assert row.diff == pytest.approx(diffs.mean()) and row.ci == pytest.approx(half)
    # sd 0.05: a t-interval of half-width 0.03 needs 14 pairs (t_13 * 0.05 / sqrt(14) < 0.03)
    assert row.sd == pytest.approx(0.05) and row.replicates_needed == 14
    assert stats.t.ppf(0.975, 12) * 0.05 / math.sqrt(13) > 0.03


def test_one_seed_says_so_and_draws_no_error_bars(tmp_path) -> None:
    cells = _cells()[lambda f: f.seed == 0]
    summary = report.summarise(cells, 0.95)
    text = report.markdown(summary, report.paired(cells, {"d": "random"}, "test_shift/acc", 0.95),
                           0.95, "exp")
    assert "n = 1, no CI" in text and "Mean ±" not in text and " ± " not in text
    assert report._errors(summary["ci"]) is None
    report.plot_robustness(summary, tmp_path / "r.png")


def test_label_efficiency_curves_and_cost_saved(tmp_path) -> None:
    rows = []
    for seed in (0, 1):
        for (cost, acc) in zip([0, 150, 300], [0.5, 0.8, 0.9], strict=True):
            rows.append({"domain": "d", "method": "adaptive", "seed": seed, "cost": cost,
                         "test_shift/acc": acc + 0.01 * seed})
    curves = pd.DataFrame(rows)
    # the reference needs no curve: its cells' own full-budget results
    cells = pd.DataFrame({"domain": "d", "method": "scale_only", "seed": [0, 1],
                          "cost/annotation": [300.0, 300.0], "test_shift/acc": [0.8, 0.81]})
    saved = report.savings(curves, cells, {"d": "scale_only"}, "test_shift/acc", 0.95)
    (row,) = saved.itertuples()
    assert row.method == "adaptive" and row.saved == pytest.approx(0.5) and row.n == 2
    higher = cells.assign(**{"test_shift/acc": [0.95, 0.96]})  # beyond adaptive's reach
    assert report.savings(curves, higher, {"d": "scale_only"}, "test_shift/acc",
                          0.95).saved.iloc[0] == -math.inf
    text = report.markdown(report.summarise(_cells(), 0.95), pd.DataFrame(), 0.95, "exp",
                           saved=saved.assign(domain="d"))
    assert "- adaptive: 50% [" in text
    report.plot_label_efficiency(curves, "test_shift/acc", tmp_path / "le.png")
    assert (tmp_path / "le.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("metric", "usual", "method", "value", "flag", "other"), [
    ("cost/underspent", 0.0, "adaptive", 12.5,
     "**Underspent:** `adaptive` left 12.5 cost units", "`random` left"),
    ("test_id/majority_share", 0.8, "random", 1.0,
     "**One class:** `random` predicts a single class", "`adaptive` predicts"),
])
def test_a_suspect_method_is_flagged(metric: str, usual: float, method: str, value: float,
                                     flag: str, other: str) -> None:
    cells = _cells().assign(**{metric: usual})
    cells.loc[cells.method == method, metric] = value
    text = report.markdown(report.summarise(cells, 0.95), pd.DataFrame(), 0.95, "exp")
    assert flag in text
    assert other not in text


def test_by_round_is_the_seed_mean_per_method() -> None:
    rounds = pd.DataFrame({"domain": "d", "method": ["a", "a", "a", "b"], "seed": [0, 1, 0, 0],
                           "round": [1, 1, 2, 1], "cumulative_cost": [10.0, 20.0, 30.0, 5.0]})
    table = report.by_round(rounds, ["cumulative_cost", "accept_rate"])
    assert table.cumulative_cost.tolist() == [15.0, 30.0, 5.0]
    assert table.accept_rate.isna().all()  # a column no cell has stays, empty
    assert list(report.by_round(pd.DataFrame(), ["x"]).columns) == ["domain", "method",
                                                                     "round", "x"]


def test_majority_share_is_the_top_class_share() -> None:
    from benchmark.evaluation.metrics import evaluate_split

    y = np.array([0, 1, 2, 1])
    assert evaluate_split("s", y, np.array([1, 1, 1, 1]), np.zeros(4), 3)["s/majority_share"] == 1
    assert evaluate_split("s", y, y, np.zeros(4), 3)["s/majority_share"] == 0.5


def test_a_domain_note_goes_under_its_heading_only() -> None:
    cells = pd.concat([_cells(), _cells().assign(domain="e")], ignore_index=True)
    text = report.markdown(report.summarise(cells, 0.95), pd.DataFrame(), 0.95, "exp",
                           notes={"e": "**Transfer:** learnt elsewhere."})
    d, e = text.index("## d"), text.index("## e")
    assert text.count("**Transfer:**") == 1 and text.index("**Transfer:**") > e > d


def test_the_strongest_baseline_and_the_settings_are_named() -> None:
    tuned = pd.DataFrame([
        {"domain": "d", "method": "random", "variant": "random.t0",
         "setting": "balance_groups=False", "metric": "val/acc", "mean": 0.8, "n_seeds": 3,
         "chosen": True},
        {"domain": "d", "method": "random", "variant": "random.t1",
         "setting": "balance_groups=True", "metric": "val/acc", "mean": 0.7, "n_seeds": 3,
         "chosen": False}])
    cells = _cells()
    text = report.markdown(report.summarise(cells, 0.95),
                           report.paired(cells, {"d": "random"}, "test_shift/acc", 0.95), 0.95,
                           "exp", tuned=tuned, strongest={"d": "random"})
    assert "**Strongest baseline:** `random`" in text
    assert ("- random: **balance_groups=False** 0.800 (also tried: balance_groups=True 0.700)"
            in text)
    assert "adaptive − random = 0.100 ± " in text and "for ± 0.030)" in text
