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

from benchmark.config import PARAMS_FILE, ConfigError, as_dict, load_params
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
from benchmark.upstream import patterns as pt
from benchmark.upstream.pattern_scores import RAW, SPLITS, pattern_report_of, rare_of


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    params = load_params()
    cfg = params.patterns
    start = time.perf_counter()
    data = load_domain(domain_dir(args.domain), splits=SPLITS)
    items = len(data["seed"]) + len(data["pool"])
    if cfg.k > items:  # else scikit-learn fails deep inside KMeans / GaussianMixture
        raise ConfigError(f"{PARAMS_FILE}: patterns.k: got {cfg.k}, expected at most the "
                          f"{items} items of seed + pool in {domain_dir(args.domain)}")
    features = {name: _embeddings(args.domain, name) for name in (PRETRAINED, RANDOM_INIT)}
    features[RAW] = {s: data[s].x.reshape(len(data[s]), -1) for s in SPLITS}
    report, primary = pattern_report_of(features, data, cfg, start)
    atomic_write_json(pattern_report(args.domain), _clean(report))
    plot_map(primary, features[PRETRAINED], data, rare_of(data, cfg), args.domain)
    _track(params, args.domain, report)


def _embeddings(domain: str, encoder: str) -> dict[str, np.ndarray]:
    return read_npz(embeddings_file(domain, encoder), SPLITS, f"dvc repro pretrain@{domain}")


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
