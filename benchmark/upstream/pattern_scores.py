"""How well a clustering finds the simulator's true patterns, and what it sees: the scores of
``patterns@domain`` (discovery per algorithm, linear probes, the density-ratio, ceiling and
lift-spread yardsticks) and its cluster table. They measure only; the adaptive method does not
use them. The stage (``benchmark/stages/patterns.py``) loads, calls and writes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.config import PatternsParams
from benchmark.data import DomainData
from benchmark.paths import PRETRAINED
from benchmark.upstream import patterns as pt

RAW = "raw"
SPLITS = ("seed", "pool", "val")
# The yardsticks' settings are fixed here rather than in params.yaml: they measure, they steer
# nothing. Cap and trees keep the ceiling at a few seconds per feature set on 2 cores (100 trees
# score within 0.04 of 200 on the simulators), and the cap holds it flat for the paper's pool.
CEILING_FEATURES = (RAW, PRETRAINED)
CEILING_CAP, CEILING_TREES, CEILING_JOBS = 5000, 100, 2
DENSITY_FOLDS, DENSITY_CAP = 5, 5000
TOP_FRACTION = 0.1  # density-ratio lift: the top 10% of the pool by p(pool | x)
SPREAD_SEEDS = 5  # clustering seeds behind the spread of the chosen clustering's lift


def pattern_report_of(features: Mapping[str, Mapping[str, np.ndarray]], data: DomainData,
                      cfg: PatternsParams, start: float) -> tuple[dict[str, Any], pt.Patterns]:
    """The pattern report of every feature set (``features``: name -> split -> embeddings)
    and the chosen clustering of the pretrained embeddings; ``start`` is when the stage began
    (the compute keys add up to its time).
    """
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
    return report, primary


def _has_truth(data: DomainData) -> bool:
    return bool(data.pattern_names) and all("pattern" in data[s].meta for s in SPLITS)


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
    labels = {s: found.assign(z[s]) for s in SPLITS}
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


