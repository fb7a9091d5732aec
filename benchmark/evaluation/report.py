"""Tables with confidence intervals, paired differences and charts from the cells' metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.evaluation.metrics.stats import cost_saved, mean_ci, paired_diff, replicates_needed
from benchmark.io import read_json
from benchmark.paths import CURVE, METRICS, result_dir

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


# why a model-side post-processing could not be fitted (benchmark.evaluation.mitigation)
NOT_FITTED = {
    "unsupported": "is defined for binary labels only (fairlearn), and this domain has more "
                   "classes",
    "degenerate": "needs both labels in every group of `val`, and a group here has one",
}


def collect(domains: Sequence[str], methods: Sequence[str],
            seeds: Mapping[str, Sequence[int]]) -> pd.DataFrame:
    """One row per cell (``seeds``: each domain's replicates): its coordinates and every
    metric it wrote."""
    rows = []
    for domain in domains:
        for method in methods:
            for seed in seeds[domain]:
                path = result_dir(domain, method, seed) / METRICS
                if not path.is_file():
                    raise FileNotFoundError(f"{path} is missing: run `dvc repro` so every cell "
                                            "of the grid is trained and scored")
                metrics = read_json(path, f"dvc repro train@{domain}")
                rows.append({"domain": domain, "method": method, "seed": seed, **metrics})
    return pd.DataFrame(rows)


def compact(summary: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """Per domain, method -> the headline metrics' means over seeds: the table
    ``dvc metrics show`` prints (one file per domain, a few columns per method).
    """
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in summary[summary.metric.isin(HEADLINE)].itertuples():
        if math.isfinite(row.mean):
            out.setdefault(row.domain, {}).setdefault(row.method, {})[row.metric] = round(
                float(row.mean), 4)
    return out


def summarise(cells: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Long table: mean, CI half-width and number of seeds per (domain, method, metric)."""
    metrics = [c for c in cells.columns if c not in ("domain", "method", "seed", "variant")]
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


def paired(cells: pd.DataFrame, baselines: Mapping[str, str], metric: str, confidence: float,
           target: float = 0.03) -> pd.DataFrame:
    """Method minus the domain's baseline (``baselines``: domain -> method) on ``metric``,
    paired by seed within each domain, with the replicates a CI half-width of ``target`` needs
    at the spread seen (``replicates_needed``).
    """
    rows = []
    for domain, part in cells.groupby("domain", sort=False):
        baseline = baselines.get(domain)
        base = part[part.method == baseline].set_index("seed")[metric]
        for method, sub in part.groupby("method", sort=False):
            if method == baseline or base.empty:
                continue
            own = sub.set_index("seed")[metric].dropna()
            seeds = sorted(set(own.index) & set(base.dropna().index))
            if not seeds:  # e.g. an entry that reports no scores on this domain
                continue
            diff = own[seeds].to_numpy() - base[seeds].to_numpy()
            mean, half, n = paired_diff(own[seeds].tolist(), base[seeds].tolist(), confidence)
            sd = float(np.std(diff, ddof=1)) if n > 1 else math.nan
            rows.append({"domain": domain, "method": method, "baseline": baseline,
                         "metric": metric, "diff": mean, "ci": half, "n_seeds": n, "sd": sd,
                         "target": target,
                         "replicates_needed": replicates_needed(sd, target, confidence)})
    return pd.DataFrame(rows)


def _fmt(mean: float, half: float) -> str:
    return f"{mean:.3f}" if math.isnan(half) else f"{mean:.3f} ± {half:.3f}"


def collect_tables(domains: Sequence[str], methods: Sequence[str],
                   seeds: Mapping[str, Sequence[int]], path: Any) -> pd.DataFrame:
    """Every cell's CSV table at ``path(domain, method, seed)`` with its coordinates, long
    format; empty when no cell has one.
    """
    parts = []
    for domain in domains:
        for method in methods:
            for seed in seeds[domain]:
                file = Path(path(domain, method, seed))
                if file.is_file() and file.stat().st_size:
                    part = pd.read_csv(file)
                    parts.append(part.assign(domain=domain, method=method, seed=seed))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def collect_curves(domains: Sequence[str], methods: Sequence[str],
                   seeds: Mapping[str, Sequence[int]]) -> pd.DataFrame:
    """Every cell's label-efficiency curve (``train.curve``); empty without."""
    return collect_tables(domains, methods, seeds, lambda d, m, s: result_dir(d, m, s) / CURVE)


def savings(curves: pd.DataFrame, cells: pd.DataFrame, references: Mapping[str, str],
            metric: str, confidence: float) -> pd.DataFrame:
    """Annotation cost saved by each method whose cells fitted a curve at the accuracy the
    domain's reference (``references``: domain -> method) reaches with its full budget
    (``benchmark.evaluation.metrics.stats.cost_saved``), per domain. The reference's point is its
    cells' own result (``cells``: cost and ``metric`` per seed), so it needs no curve of its own.
    """
    rows = []
    if curves.empty:
        return pd.DataFrame(rows)
    for domain, part in curves.groupby("domain", sort=False):
        reference = references.get(domain)
        mine = cells[(cells.domain == domain) & (cells.method == reference)]
        ref = {int(s): ([float(c)], [float(v)]) for s, c, v in
               zip(mine.seed, mine["cost/annotation"], mine[metric], strict=True)}
        if not ref:
            continue
        for method, sub in part.groupby("method", sort=False):
            if method == reference:
                continue
            own = {int(s): (g.sort_values("cost").cost.tolist(),
                            g.sort_values("cost")[metric].tolist())
                   for s, g in sub.groupby("seed")}
            res = cost_saved(own, ref, confidence)
            rows.append({"domain": domain, "method": method, "reference": reference,
                         "metric": metric, **res})
    return pd.DataFrame(rows)


def _fmt_saved(row: Any) -> str:
    def pct(v: float) -> str:
        return "not reached" if v == -math.inf else f"{100 * v:.0f}%"

    if row.n < 2:
        return f"{pct(row.saved)} (n = 1, no CI)"
    return (f"{pct(row.saved)} [{pct(row.lo)}, {pct(row.hi)}] (n = {row.n}; reached in "
            f"{100 * row.reached:.0f}% of bootstrap resamples)")


def markdown(summary: pd.DataFrame, diffs: pd.DataFrame, confidence: float,
             experiment: str, annotators: dict[str, dict] | None = None,
             saved: pd.DataFrame | None = None, notes: dict[str, str] | None = None,
             tuned: pd.DataFrame | None = None, strongest: Mapping[str, str] | None = None,
             tuning_metric: str = "val/acc") -> str:
    """The human-readable summary: one methods x metrics table per domain (``notes``: a line
    under a domain's heading, e.g. where a transfer domain's models learnt), the settings
    chosen on ``val`` (``tuned``) and the strongest baseline (``strongest``: domain -> method).
    """
    level = round(confidence * 100)
    single = summary.empty or int(summary["n_seeds"].max()) < 2
    spread = ("n = 1, no CI: one seed per cell, so values are single runs and the plots have "
              "no error bars. " if single else
              f"Mean ± {level}% CI (Student t) over seeds; `n` = number of seeds. ")
    lines = [f"# Results: experiment `{experiment}`", "",
             spread + "Shift = the domain's distribution-shifted test split; DPD / EOD = "
             "demographic parity / equalized odds difference (one-vs-rest maximum for multiclass); "
             "accept rate = share of synthetic items people accepted.", ""]
    for domain, part in summary.groupby("domain", sort=False):
        lines += [f"## {domain}", ""]
        if (notes or {}).get(domain):
            lines += [notes[domain], ""]
        if (strongest or {}).get(domain):
            lines += [f"**Strongest baseline:** `{strongest[domain]}` (the baseline with the "
                      f"best mean {tuning_metric}; the paired differences below are against "
                      "it).", ""]
        lines += _tuning_lines(tuned, domain)
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
        for row in part[(part.metric == "cost/underspent") & (part["mean"] > 1.0)].itertuples():
            lines.append(f"\n**Underspent:** `{row.method}` left {row.mean:.1f} cost units of "
                         "its budget unspent on average (stop reason in each cell's "
                         "construction.json): its row is not an equal-budget comparison.")
        for row in part[(part.metric == "cost/overspent") & (part["mean"] > 1e-9)].itertuples():
            lines.append(f"\n**Overspent:** `{row.method}`'s ledgers record {row.mean:.2f} cost "
                         "units beyond its budget on average (answers imported at other prices "
                         "or an edited ledger): its row is not an equal-budget comparison.")
        for row in part[(part.metric == "test_id/majority_share")
                        & (part["mean"] > 0.999)].itertuples():
            lines.append(f"\n**One class:** `{row.method}` predicts a single class for every "
                         "test_id item (in every seed): its accuracy is that class's share, not "
                         "something it learnt; at this scale (e.g. the smoke profile) the "
                         "comparison says nothing about the methods.")
        for row in part[part.metric.str.startswith("postprocess/")].itertuples():
            post, _, why = row.metric.split("/")[1].rpartition("_")
            lines.append(f"\n`{row.method}` reports no scores here: {post} "
                         f"{NOT_FITTED.get(why, why)}.")
        lines.append("")
        own = diffs[diffs.domain == domain] if not diffs.empty else diffs
        for row in own.itertuples():
            ci = " (n = 1, no CI)" if row.n_seeds < 2 else f" (n = {row.n_seeds}{_needed(row)})"
            lines.append(f"- paired {row.metric}: {row.method} − {row.baseline} = "
                         f"{_fmt(row.diff, row.ci)}{ci}")
        lines.append("")
        mine = saved[saved.domain == domain] if saved is not None and not saved.empty else None
        for ref, rows in (mine.groupby("reference", sort=False) if mine is not None else ()):
            metric = rows.iloc[0].metric
            lines += [f"Annotation cost saved at the {metric} `{ref}` reaches with its full "
                      f"budget (1 − C / C_{ref}; C interpolated on the seed-averaged "
                      f"label-efficiency curve; {level}% percentile bootstrap over seeds):", ""]
            lines += [f"- {row.method}: {_fmt_saved(row)}" for row in rows.itertuples()]
            lines.append("")
    return "\n".join(lines)


def _needed(row: Any) -> str:
    """How many paired replicates the sought half-width needs at the spread seen."""
    needed = getattr(row, "replicates_needed", math.nan)
    if not math.isfinite(needed):
        return ""
    return f"; {int(needed)} for ± {row.target:.3f}"


def _tuning_lines(tuned: pd.DataFrame | None, domain: str) -> list[str]:
    """The setting each tuned method used, chosen on its val metric, and the alternatives."""
    if tuned is None or tuned.empty:
        return []
    mine = tuned[tuned.domain == domain]
    if mine.empty:
        return []
    metric = mine.iloc[0].metric
    if mine["mean"].isna().all():  # chosen on tuning replicates of their own
        lines = [f"Settings used, chosen per method on {metric} of tuning replicates apart "
                 "from these (the experiment's `-tuning` report has every setting's score):",
                 ""]
        return [*lines, *(f"- {r.method}: **{r.setting}**" for r in mine.itertuples()), ""]
    lines = [f"Settings chosen per method on {metric} (mean over seeds; never a test split):",
             ""]
    for method, rows in mine.groupby("method", sort=False):
        best = rows[rows.chosen].iloc[0]
        others = ", ".join(f"{r.setting} {r.mean:.3f}" for r in rows[~rows.chosen].itertuples())
        lines.append(f"- {method}: **{best.setting}** {best['mean']:.3f}"
                     + (f" (also tried: {others})" if others else ""))
    return [*lines, ""]


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
            ax.bar(xs, rows["mean"], width, yerr=_errors(rows["ci"]), capsize=3, label=label)
        ax.set_xticks(range(len(methods)), methods, rotation=20)
        ax.set_ylim(0, 1)
        ax.set_title(domain)
        ax.set_ylabel("accuracy")
    axes[0][0].legend(loc="lower left", fontsize=8)
    _save(fig, path)


def _errors(ci: pd.Series) -> pd.Series | None:
    """Error bars only where a CI exists: none at all for one seed (not zero-length bars)."""
    return None if ci.isna().all() else ci.fillna(0)


def _save(fig: Any, path: str | Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_name(f".{Path(path).stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _axes(n: int, height: float = 3.4) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, height), squeeze=False)
    return fig, axes[0]


def plot_label_efficiency(curves: pd.DataFrame, metric: str, path: str | Path) -> None:
    """Per domain: ``metric`` against annotation cost per method, the seed mean with its
    min-max band over seeds (no band for one seed).
    """
    from benchmark.evaluation.metrics.stats import mean_curve

    domains = list(dict.fromkeys(curves.domain))
    fig, axes = _axes(len(domains))
    for ax, domain in zip(axes, domains, strict=True):
        part = curves[curves.domain == domain]
        for method, sub in part.groupby("method", sort=False):
            per_seed = [(g.sort_values("cost").cost.to_numpy(),
                         g.sort_values("cost")[metric].to_numpy()) for _, g in sub.groupby("seed")]
            grid = np.unique(np.concatenate([c for c, _ in per_seed]))
            grid = grid[grid <= min(c[-1] for c, _ in per_seed)]
            line = ax.plot(grid, mean_curve(per_seed, grid), marker="o", ms=3, label=method)[0]
            if len(per_seed) > 1:
                stack = np.array([np.interp(grid, c, a) for c, a in per_seed])
                ax.fill_between(grid, stack.min(0), stack.max(0), alpha=0.15,
                                color=line.get_color())
        ax.set_title(domain)
        ax.set_xlabel("annotation cost")
        ax.set_ylabel(metric)
    axes[0].legend(fontsize=8)
    _save(fig, path)


def by_round(rounds: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Seed means of ``columns`` per (domain, method, round), long: the rows ``dvc plots``
    draws (a method without rounds, e.g. seed_only, has none; a missing column stays empty).
    """
    keys = ["domain", "method", "round"]
    if rounds.empty:
        return pd.DataFrame(columns=[*keys, *columns])
    present = rounds.reindex(columns=[*keys, *columns])
    return present.groupby(keys, sort=False)[list(columns)].mean().reset_index()


def plot_rounds(frames: pd.DataFrame, columns: Sequence[str], path: str | Path) -> None:
    """Metric against round: one panel per column, one line per (domain, method), seed mean."""
    present = [c for c in columns if c in frames.columns and frames[c].notna().any()]
    if not present:
        return
    fig, axes = _axes(len(present))
    for ax, column in zip(axes, present, strict=True):
        mean = frames.groupby(["domain", "method", "round"], sort=False)[column].mean()
        for (domain, method), series in mean.groupby(level=[0, 1], sort=False):
            ax.plot(series.index.get_level_values("round"), series.to_numpy(), marker="o",
                    ms=3, label=f"{domain}/{method}")
        ax.set_xlabel("round")
        ax.set_title(column)
    axes[-1].legend(fontsize=6, ncol=2)
    _save(fig, path)


def plot_groups(groups: pd.DataFrame, split: str, path: str | Path) -> None:
    """Per domain, accuracy per group and method on ``split`` (seed mean)."""
    part = groups[groups.split == split]
    if part.empty:
        return
    domains = list(dict.fromkeys(part.domain))
    fig, axes = _axes(len(domains))
    for ax, domain in zip(axes, domains, strict=True):
        table = (part[part.domain == domain].groupby(["method", "name"], sort=False)["acc"]
                 .mean().unstack("name"))
        table.plot.bar(ax=ax, rot=20, ylim=(0, 1), legend=True)
        ax.set_title(f"{domain}: {split} accuracy per group")
        ax.legend(fontsize=7)
    _save(fig, path)
