"""``patterns@domain``: cluster the pretrained embeddings of seed (D) + pool, measure each
cluster's deficit and weakness, and score the discovery against the simulator's true patterns.

The pattern table comes from the pretrained encoder and ``patterns.algorithm``. Discovery scores
(AMI, rare-pattern recall in the top-deficit clusters, for k-means and the Gaussian mixture) and
a linear probe (fitted on seed, scored on val) are reported for the pretrained encoder beside two
baselines: the same encoder untrained, and the raw inputs. Three yardsticks sit beside the
discovery scores where true patterns exist: per feature set, the rare-pattern lift of ranking the
pool item by item by a cross-fitted density ratio p(pool | x) instead of by cluster deficit
(``density_ratio``); for the raw inputs and the pretrained embeddings, how well a supervised
forest recovers the true patterns at all (``ceiling``); and the spread of the chosen
clustering's lift over clustering seeds (``lift_spread``: how much of it is initialisation
luck). They measure only; the adaptive method does not use them. Outputs: the report (DVC
metrics), a 2-D map of the clusters coloured by deficit (DVC plot), and a W&B run
``<domain>-patterns``.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmark import patterns as pt
from benchmark.config import PARAMS_FILE, ConfigError, PatternsParams, as_dict, load_params
from benchmark.data import DomainData, load_domain
from benchmark.io import atomic_write, atomic_write_json, read_npz
from benchmark.paths import (
    PRETRAINED,
    RANDOM_INIT,
    domain_dir,
    embeddings_file,
    pattern_map,
    pattern_report,
)
from benchmark.stages import domain_args, run

RAW = "raw"
_SPLITS = ("seed", "pool", "val")
# The yardsticks' settings are fixed here rather than in params.yaml: they measure, they steer
# nothing. Cap and trees keep the ceiling at a few seconds per feature set on 2 cores (100 trees
# score within 0.04 of 200 on the simulators), and the cap holds it flat for the paper's pool.
CEILING_FEATURES = (RAW, PRETRAINED)
CEILING_CAP, CEILING_TREES, CEILING_JOBS = 5000, 100, 2
DENSITY_FOLDS, DENSITY_CAP = 5, 5000
TOP_FRACTION = 0.1  # density-ratio lift: the top 10% of the pool by p(pool | x)
SPREAD_SEEDS = 5  # clustering seeds behind the spread of the chosen clustering's lift


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    params = load_params()
    cfg = params.patterns
    start = time.perf_counter()
    data = load_domain(domain_dir(args.domain), splits=_SPLITS)
    items = len(data["seed"]) + len(data["pool"])
    if cfg.k > items:  # else scikit-learn fails deep inside KMeans / GaussianMixture
        raise ConfigError(f"{PARAMS_FILE}: patterns.k: got {cfg.k}, expected at most the "
                          f"{items} items of seed + pool in {domain_dir(args.domain)}")
    features = {name: _embeddings(args.domain, name) for name in (PRETRAINED, RANDOM_INIT)}
    features[RAW] = {s: data[s].x.reshape(len(data[s]), -1) for s in _SPLITS}
    rare = rare_of(data, cfg)
    lap = time.perf_counter()
    ratios = _density_ratios(features, cfg) if rare is not None else {}
    ratio_s = time.perf_counter() - lap
    fits = {name: {alg: pt.discover_with(cfg, z["seed"], z["pool"], algorithm=alg)
                   for alg in pt.ALGORITHMS}
            for name, z in features.items()}
    primary = fits[PRETRAINED][cfg.algorithm]
    report = {
        "k": cfg.k, "algorithm": cfg.algorithm, "top": cfg.top, "rare_ratio": cfg.rare_ratio,
        "rare_patterns": [data.pattern_names[p] for p in rare] if rare is not None else None,
        "scores": {name: scores(z, data, fits[name], rare, cfg, ratios.get(name))
                   for name, z in features.items()},
        "clusters": cluster_table(primary, features[PRETRAINED], data, cfg),
    }
    if rare is not None:
        report["scores"][PRETRAINED]["lift_spread"] = lift_spread(features[PRETRAINED], data,
                                                                   rare, cfg, primary)
    lap = time.perf_counter()
    report["ceiling"] = _ceilings(features, data, cfg)
    ceiling_s = time.perf_counter() - lap
    # disjoint parts, so the compute/* keys sum to the stage's compute
    report["compute/patterns_s"] = round(lap - start - ratio_s, 3)
    report["compute/density_ratio_s"] = round(ratio_s, 3)
    report["compute/ceiling_s"] = round(ceiling_s, 3)
    atomic_write_json(pattern_report(args.domain), _clean(report))
    plot_map(primary, features[PRETRAINED], data, rare, args.domain)
    _track(params, args.domain, report)


def _embeddings(domain: str, encoder: str) -> dict[str, np.ndarray]:
    return read_npz(embeddings_file(domain, encoder), _SPLITS, f"dvc repro pretrain@{domain}")


def _has_truth(data: DomainData) -> bool:
    return bool(data.pattern_names) and all("pattern" in data[s].meta for s in _SPLITS)


def rare_of(data: DomainData, cfg: PatternsParams) -> np.ndarray | None:
    """The rare true patterns, or None for a source that records no patterns."""
    if not _has_truth(data):
        return None
    return pt.rare_patterns(data["seed"].meta["pattern"], data["pool"].meta["pattern"],
                            len(data.pattern_names), cfg.rare_ratio)


def scores(z: Mapping[str, np.ndarray], data: DomainData, fits: Mapping[str, pt.Patterns],
            rare: np.ndarray | None, cfg: PatternsParams,
            ratio: np.ndarray | None = None) -> dict[str, Any]:
    """Linear probes on val and, where true patterns exist, discovery per algorithm and the
    density-ratio ranking's lift beside it.

    ``probe_acc`` trains on seed (the labels a method starts with), ``probe_acc_pool`` on the
    pool's labels, which only the harness reads: the linear-probe protocol of self-supervised
    learning, what the features expose once a few hundred labels no longer limit the probe.
    """
    val = data["val"].y
    out: dict[str, Any] = {
        "probe_acc": pt.linear_probe(z["seed"], data["seed"].y, z["val"], val, cfg.seed),
        "probe_acc_pool": pt.linear_probe(z["pool"], data["pool"].y, z["val"], val, cfg.seed),
    }
    if rare is None:
        return out
    for alg, found in fits.items():
        out[alg] = _discovery(found, z, data, rare, cfg)
    if ratio is not None:
        out["density_ratio"] = _ratio_lift(ratio, data, rare, out[cfg.algorithm]["top_coverage"])
    return out


def _discovery(found: pt.Patterns, z: Mapping[str, np.ndarray], data: DomainData,
               rare: np.ndarray, cfg: PatternsParams) -> dict[str, float]:
    """One clustering's discovery scores on the pool, with the deficit against seed (D)."""
    pool_labels = found.assign(z["pool"])
    gaps = pt.deficit(found.assign(z["seed"]), pool_labels, cfg.k)
    return pt.discovery_scores(pool_labels, data["pool"].meta["pattern"], rare, gaps, cfg.top)


def lift_spread(z: Mapping[str, np.ndarray], data: DomainData, rare: np.ndarray,
                cfg: PatternsParams, chosen: pt.Patterns) -> dict[str, float]:
    """The chosen clustering is one initialisation (``patterns.seed``); its rare-pattern lift
    beside the same clustering refitted with the next :data:`SPREAD_SEEDS` - 1 seeds shows how
    much of the reported lift is the features and how much the luck of the initialisation.
    """
    refits = [pt.discover_with(cfg, z["seed"], z["pool"], seed)
              for seed in range(cfg.seed + 1, cfg.seed + SPREAD_SEEDS)]
    lifts = [_discovery(found, z, data, rare, cfg)["rare_lift"] for found in [chosen, *refits]]
    return {"seeds": SPREAD_SEEDS, "mean": float(np.nanmean(lifts)),
            "min": float(np.nanmin(lifts)), "max": float(np.nanmax(lifts))}


def _density_ratios(features: Mapping[str, Mapping[str, np.ndarray]],
                    cfg: PatternsParams) -> dict[str, np.ndarray]:
    """Per feature set, each pool item's cross-fitted p(pool | x) against seed (D)."""
    return {name: pt.density_ratio(z["seed"], z["pool"], DENSITY_FOLDS, cfg.seed, DENSITY_CAP)
            for name, z in features.items()}


def _ratio_lift(ratio: np.ndarray, data: DomainData, rare: np.ndarray,
                coverage: float) -> dict[str, float]:
    """Rare-pattern lift of the pool ranked by p(pool | x), defined as the clusters'
    ``rare_lift`` (rare share in the chosen items / rare share in the pool): ``rare_lift`` for
    the top :data:`TOP_FRACTION` of the pool, ``rare_lift_at_coverage`` for the top items
    covering the same share of the pool as ``patterns.algorithm``'s top-deficit clusters (the
    like-for-like comparison with its ``rare_lift``).
    """
    pattern = data["pool"].meta["pattern"]
    return {"top_fraction": TOP_FRACTION,
            "rare_lift": pt.top_lift(ratio, pattern, rare, TOP_FRACTION),
            "rare_lift_at_coverage": pt.top_lift(ratio, pattern, rare, coverage)}


def _ceilings(features: Mapping[str, Mapping[str, np.ndarray]], data: DomainData,
              cfg: PatternsParams) -> dict[str, dict[str, float]] | None:
    """Per feature set of :data:`CEILING_FEATURES`: a forest trained on the pool's true
    patterns, scored on val, beside the majority answer; None without true patterns.
    """
    if not _has_truth(data):
        return None
    pool, val = data["pool"].meta["pattern"], data["val"].meta["pattern"]
    return {name: pt.pattern_ceiling(features[name]["pool"], pool, features[name]["val"], val,
                                     CEILING_CAP, CEILING_TREES, cfg.seed, CEILING_JOBS)
            for name in CEILING_FEATURES}


def cluster_table(found: pt.Patterns, z: Mapping[str, np.ndarray], data: DomainData,
                  cfg: PatternsParams) -> list[dict[str, Any]]:
    """One row per cluster: counts and shares in seed (D) and pool, deficit, weakness on val and,
    where known, the cluster's most common true pattern; rows sorted by deficit.
    """
    labels = {s: found.assign(z[s]) for s in _SPLITS}
    gaps = pt.deficit(labels["seed"], labels["pool"], cfg.k)
    proba = pt.committee_proba(z["seed"], data["seed"].y, z["val"], data.n_classes,
                               cfg.committee, cfg.seed)
    weak = pt.weakness(labels["val"], data["val"].y, proba, cfg.k)
    share_d, share_pool = pt.shares(labels["seed"], cfg.k), pt.shares(labels["pool"], cfg.k)
    rows = []
    for c in np.argsort(-gaps, kind="stable"):
        row = {"cluster": int(c), "n_seed": int((labels["seed"] == c).sum()),
               "n_pool": int((labels["pool"] == c).sum()), "share_seed": share_d[c],
               "share_pool": share_pool[c], "deficit": gaps[c], "n_val": int(weak.count[c]),
               "val_error": weak.error[c], "val_entropy": weak.entropy[c]}
        if _has_truth(data):
            row.update(_majority(data, labels["pool"] == c))
        rows.append(row)
    return rows


def _majority(data: DomainData, members: np.ndarray) -> dict[str, Any]:
    found = data["pool"].meta["pattern"][members]
    if len(found) == 0:
        return {"top_pattern": None, "top_pattern_share": None}
    values, counts = np.unique(found, return_counts=True)
    return {"top_pattern": data.pattern_names[values[counts.argmax()]],
            "top_pattern_share": counts.max() / len(found)}


def plot_map(found: pt.Patterns, z: Mapping[str, np.ndarray], data: DomainData,
             rare: np.ndarray | None, domain: str) -> None:
    """Pool items on the first two principal components, coloured by their cluster's deficit
    (red: under-represented in D), with the seed items; a second panel marks the rare true
    patterns, so the two can be compared by eye.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = found.assign(z["pool"])
    gaps = pt.deficit(found.assign(z["seed"]), labels, found.k)
    xy, xy_seed = found.project(z["pool"]), found.project(z["seed"])
    panels = 1 if rare is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.5), squeeze=False)
    span = max(float(np.abs(gaps).max()), 1e-9)
    dots = axes[0, 0].scatter(*xy.T, c=gaps[labels], cmap="RdBu_r", vmin=-span, vmax=span, s=6)
    axes[0, 0].scatter(*xy_seed.T, c="k", marker="x", s=10, linewidths=0.6, label="seed (D)")
    for c in range(found.k):
        if (labels == c).any():
            axes[0, 0].annotate(str(c), xy[labels == c].mean(axis=0), fontsize=8, weight="bold")
    fig.colorbar(dots, ax=axes[0, 0], label="deficit = pool share - D share")
    axes[0, 0].set_title(f"{domain}: {found.k} clusters of the pretrained embeddings")
    axes[0, 0].legend(loc="best", fontsize=8)
    if rare is not None:
        is_rare = np.isin(data["pool"].meta["pattern"], rare)
        axes[0, 1].scatter(*xy[~is_rare].T, c="0.75", s=6, label="common pattern")
        axes[0, 1].scatter(*xy[is_rare].T, c="tab:red", s=8, label="rare pattern (truth)")
        axes[0, 1].set_title("pool items by true pattern")
        axes[0, 1].legend(loc="best", fontsize=8)
    for ax in axes.ravel():
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write(pattern_map(domain), lambda fh: fh.write(buffer.getvalue()))


def _clean(obj: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to null."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else round(float(obj), 6)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _track(params: Any, domain: str, report: dict[str, Any]) -> None:
    """The report in a W&B run ``<domain>-patterns``: scores, the cluster table and the map."""
    from benchmark.tracking import track_domain_report

    config = {"domain": domain, "profile": params.profile, "patterns": as_dict(params.patterns),
              "pretrain": as_dict(params.pretrain)}
    clean = _clean(report)
    track_domain_report(params.tracking, params.grid.experiment, params.profile, domain,
                        "patterns", config,
                        {**clean["scores"], "ceiling": clean["ceiling"]}, pattern_map(domain),
                        {"clusters": clean["clusters"]})


if __name__ == "__main__":
    run(main)
