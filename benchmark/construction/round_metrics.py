"""Per-round metrics of the dataset under construction, the same for every method: functions
``(dataset, m) -> float | dict[str, float]`` in a registry. A float is logged under the metric's
name, a dict under its own flat keys (``coverage``, ``cluster_gap/3``); W&B adds the ``round/``
prefix (step = round), construction.json keeps them per round and the per-cell DVC plot picks its
columns from them. ``m`` is the harness's :class:`benchmark.construction.loop.Measure` (its own
``val``, pool, embeddings by id, ``reference``), never a method's view, so nothing a method does
moves a metric; a method reads them back through ``view.history`` to re-target. Metrics that need
hidden truth are computed by the loop itself (``benchmark.construction.loop.harness_metrics``) and
never reach a method.

``benchmark.evaluation.metrics.diversity`` is imported inside the functions: its package loads
fairlearn and torchmetrics (seconds), which ``import benchmark.construction.loop`` should not pay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark.data import Split
from benchmark.registry import Registry

# (D, benchmark.construction.loop.Measure)
RoundMetric = Callable[[Split, Any], float | dict[str, float]]
ROUND_METRICS: Registry[RoundMetric] = Registry("round metric")
PRDC_K = 5  # Naeem et al. 2020


def _embed(dataset: Split, m: Any) -> np.ndarray:
    """D's embeddings (seed / pool from the pretrain cache, synthetic ones cached by id)."""
    return m.embed(dataset.meta["item"])


@ROUND_METRICS.register("probe_val_acc")
def probe_val_acc(dataset: Split, m: Any) -> dict[str, float]:
    """``val`` accuracy of a linear probe fitted on D's embeddings — a cheap, method-independent
    reading of how much the round's additions taught — overall and per group
    (``group_val_acc/<g>``, the lag the adaptive method re-targets on).
    """
    from benchmark.upstream.patterns import probe_model

    val = m.val
    if len(np.unique(dataset.y)) < 2:
        pred = np.full(len(val.y), dataset.y[0])
    else:
        z_val = m.resources.embeddings["val"]
        pred = probe_model(m.seed).fit(_embed(dataset, m), dataset.y).predict(z_val)
    right = pred == val.y
    out = {"probe_val_acc": float(right.mean())}
    out.update({f"group_val_acc/{g}": float(right[val.group == g].mean())
                for g in np.unique(val.group).tolist()})
    return out


@ROUND_METRICS.register("cluster_entropy")
def cluster_occupancy(dataset: Split, m: Any) -> dict[str, float]:
    """Occupancy of the frozen pattern clusters: normalised entropy H / log K
    (``cluster_entropy``, 1 = even), exp(H) (``cluster_effective``, occupied clusters) and per
    cluster the ``reference`` share minus D's share (``cluster_gap/<c>``, > 0: under-covered).
    """
    from benchmark.evaluation.metrics.diversity import cluster_entropy

    found = m.resources.patterns
    labels = found.assign(_embed(dataset, m))
    h = cluster_entropy(labels, found.k)
    ref = found.assign(m.resources.embeddings["reference"])
    gap = (np.bincount(ref, minlength=found.k) / max(len(ref), 1)
           - np.bincount(labels, minlength=found.k) / max(len(labels), 1))
    return {"cluster_entropy": h["normalized"], "cluster_effective": h["effective"],
            **{f"cluster_gap/{c}": float(g) for c, g in enumerate(gap)}}


@ROUND_METRICS.register("prdc")
def prdc_reference(dataset: Split, m: Any) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020, k = 5) of D against the
    ``reference`` split in encoder space; nan while either set holds k items or fewer.
    """
    from benchmark.evaluation.metrics import diversity

    real = m.resources.embeddings["reference"]
    names = ("precision", "recall", "density", "coverage")
    if min(len(real), len(dataset)) <= PRDC_K:
        return dict.fromkeys(names, math.nan)
    found = diversity.prdc(real, _embed(dataset, m), PRDC_K,
                           real_radii=m.resources.reference_radii(PRDC_K))
    return {n: float(found[n]) for n in names}


@ROUND_METRICS.register("vendi")
def vendi_score(dataset: Split, m: Any) -> float:
    """Vendi score of D's embeddings (cosine kernel): the effective number of distinct items."""
    from benchmark.evaluation.metrics.diversity import vendi

    return vendi(_embed(dataset, m))


@ROUND_METRICS.register("label_issue_rate")
def label_issue_rate(dataset: Split, m: Any) -> float:
    """Share of D that cleanlab flags as likely mislabelled (out-of-fold probe probabilities)."""
    from benchmark.evaluation.metrics.diversity import label_issue_rate as rate

    return rate(_embed(dataset, m), dataset.y, seed=m.seed)


def committee_consistency(dataset: Split, m: Any) -> float:
    """Mean pairwise agreement on ``val`` of 5 bootstrap probes fitted on D (1 = one model).
    Not a round metric: five probe fits took 0.6-1.1 s at quick sizes, over the ~0.5 s a
    round's metrics may add, so it is logged once, on the round that ends the run.
    """
    from benchmark.evaluation.metrics.diversity import committee_consistency as agreement
    from benchmark.upstream.patterns import committee_proba

    if len(np.unique(dataset.y)) < 2:
        return 1.0
    return agreement(committee_proba(_embed(dataset, m), dataset.y,
                                     m.resources.embeddings["val"], m.n_classes, 5,
                                     seed=m.seed))


@ROUND_METRICS.register("composition")
def composition(dataset: Split, m: Any) -> dict[str, float]:
    """Group make-up of D (``group_share/<g>``, ``group_share/unknown`` = synthetic) and its
    total-variation distance from the pool's, over items of known group (``composition_gap``).
    The whole pool is the round's remaining pool (``m.pool``, from before the round's
    additions) plus D's pool items from earlier rounds.
    """
    from benchmark.evaluation.metrics.diversity import composition_gap, group_composition

    items = dataset.meta["item"].astype(str)
    earlier = np.char.startswith(items, "pool:") & ~np.isin(items, m.pool.items.astype(str))
    pool_group = np.concatenate([m.pool.group, dataset.group[earlier]])
    n_groups = int(max(pool_group.max(initial=-1), dataset.group.max(initial=-1),
                       m.val.group.max(initial=-1))) + 1
    shares = group_composition(dataset.group, n_groups)
    return {"composition_gap": composition_gap(dataset.group, pool_group, n_groups),
            **{f"group_share/{g}": s for g, s in shares.items()}}


def final_metrics(dataset: Split, m: Any) -> dict[str, float]:
    """The metrics logged on the last round only (none without the domain's resources)."""
    if m.resources is None:
        return {}
    return {"committee_consistency": committee_consistency(dataset, m)}


def round_metrics(dataset: Split, m: Any) -> dict[str, float]:
    """Every registered round metric, flattened (none without the domain's resources)."""
    if m.resources is None:
        return {}
    out: dict[str, float] = {}
    for name in ROUND_METRICS.names():
        value = ROUND_METRICS.get(name)(dataset, m)
        if isinstance(value, dict):
            out.update({k: float(v) for k, v in value.items()})
        else:
            out[name] = float(value)
    return out
