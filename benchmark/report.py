"""Tables with confidence intervals, paired differences and charts from the cells' metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from benchmark.metrics.stats import mean_ci, paired_diff
from benchmark.paths import METRICS, result_dir

HEADLINE: dict[str, str] = {
    "test_id/acc": "ID acc",
    "test_shift/acc": "shift acc",
    "shift_gap/acc": "ID-shift gap",
    "test_shift/acc_wg": "shift worst-group acc",
    "test_shift/f1_macro": "shift macro-F1",
    "test_shift/dpd": "shift DPD",
    "test_shift/eod": "shift EOD",
    "cost/annotation": "annotation cost",
    "dataset/size": "dataset size",
    "dataset/synthetic_share": "synthetic share",
    "human/accepted": "accept rate",
}


def collect(domains: Sequence[str], methods: Sequence[str], seeds: Sequence[int]) -> pd.DataFrame:
    """One row per cell: its coordinates and every metric it wrote."""
    rows = []
    for domain in domains:
        for method in methods:
            for seed in seeds:
                path = result_dir(domain, method, seed) / METRICS
                if not path.is_file():
                    raise FileNotFoundError(f"{path} is missing: run `dvc repro` so every cell "
                                            "of the grid is trained and scored")
                metrics = json.loads(path.read_text())
                rows.append({"domain": domain, "method": method, "seed": seed, **metrics})
    return pd.DataFrame(rows)


def summarise(cells: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Long table: mean, CI half-width and number of seeds per (domain, method, metric)."""
    metrics = [c for c in cells.columns if c not in ("domain", "method", "seed")]
    rows = []
    for (domain, method), part in cells.groupby(["domain", "method"], sort=False):
        for metric in metrics:
            values = part[metric].dropna().tolist()
            if not values:  # e.g. a group absent from every seed of this method
                continue
            mean, half, n = mean_ci(values, confidence)
            rows.append({"domain": domain, "method": method, "metric": metric,
                         "mean": mean, "ci": half, "n_seeds": n})
    return pd.DataFrame(rows)


def paired(cells: pd.DataFrame, baseline: str, metric: str, confidence: float) -> pd.DataFrame:
    """Method minus baseline on ``metric``, paired by seed within each domain."""
    rows = []
    for domain, part in cells.groupby("domain", sort=False):
        base = part[part.method == baseline].set_index("seed")[metric]
        for method, sub in part.groupby("method", sort=False):
            if method == baseline or base.empty:
                continue
            own = sub.set_index("seed")[metric]
            seeds = sorted(set(own.index) & set(base.index))
            mean, half, n = paired_diff(own[seeds].tolist(), base[seeds].tolist(), confidence)
            rows.append({"domain": domain, "method": method, "baseline": baseline,
                         "metric": metric, "diff": mean, "ci": half, "n_seeds": n})
    return pd.DataFrame(rows)


def _fmt(mean: float, half: float) -> str:
    return f"{mean:.3f}" if math.isnan(half) else f"{mean:.3f} ± {half:.3f}"


def markdown(summary: pd.DataFrame, diffs: pd.DataFrame, confidence: float,
             experiment: str, annotators: dict[str, dict] | None = None) -> str:
    """The human-readable summary: one methods x metrics table per domain."""
    level = round(confidence * 100)
    lines = [f"# Results: experiment `{experiment}`", "",
             f"Mean ± {level}% CI (Student t) over seeds; `n` = number of seeds. "
             "Shift = the domain's distribution-shifted test split; DPD / EOD = demographic "
             "parity / equalized odds difference (one-vs-rest maximum for multiclass); "
             "accept rate = share of synthetic items people accepted.", ""]
    for domain, part in summary.groupby("domain", sort=False):
        lines += [f"## {domain}", ""]
        judge = (annotators or {}).get(domain)
        if judge:
            lines += ["Simulated annotator (judge trained on `reference`): accuracy "
                      + ", ".join(f"{s} {judge[f'{s}/acc']:.3f}"
                                  for s in ("val", "test_id", "test_shift")) + ".", ""]
        lines += ["| method | n | " + " | ".join(HEADLINE.values()) + " |",
                  "|---|---|" + "---|" * len(HEADLINE)]
        for method, rows in part.groupby("method", sort=False):
            by_metric = rows.set_index("metric")
            cells = [_fmt(by_metric.loc[m, "mean"], by_metric.loc[m, "ci"])
                     if m in by_metric.index else "–" for m in HEADLINE]
            n = int(rows["n_seeds"].max())
            lines.append(f"| {method} | {n} | " + " | ".join(cells) + " |")
        lines.append("")
        own = diffs[diffs.domain == domain] if not diffs.empty else diffs
        for row in own.itertuples():
            lines.append(f"- paired {row.metric}: {row.method} − {row.baseline} = "
                         f"{_fmt(row.diff, row.ci)} (n = {row.n_seeds})")
        lines.append("")
    return "\n".join(lines)


def plot_robustness(summary: pd.DataFrame, path: str | Path) -> None:
    """Grouped bars per domain: shifted accuracy and worst-group shifted accuracy per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    domains = list(dict.fromkeys(summary.domain))
    metrics = {"test_shift/acc": "shift acc", "test_shift/acc_wg": "shift worst-group acc"}
    fig, axes = plt.subplots(1, len(domains), figsize=(4.2 * len(domains), 3.6), squeeze=False)
    for ax, domain in zip(axes[0], domains, strict=True):
        part = summary[summary.domain == domain]
        methods = list(dict.fromkeys(part.method))
        width = 0.8 / len(metrics)
        for k, (metric, label) in enumerate(metrics.items()):
            rows = part[part.metric == metric].set_index("method").reindex(methods)
            xs = [i + (k - (len(metrics) - 1) / 2) * width for i in range(len(methods))]
            ax.bar(xs, rows["mean"], width, yerr=rows["ci"].fillna(0), capsize=3, label=label)
        ax.set_xticks(range(len(methods)), methods, rotation=20)
        ax.set_ylim(0, 1)
        ax.set_title(domain)
        ax.set_ylabel("accuracy")
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
