"""``adaptive``: the method under study — diversity-aware, model-assisted construction.

Each round, from the harness's own parts:
1. a committee on the encoder's embeddings of D gives uncertainty and, on ``val``, the clusters
   (the frozen ``patterns`` clustering) where the dataset is weak;
2. the pattern table on the current D: deficit (pool share - D share) and weakness (committee
   error on ``val``) per cluster, raised where a fairness group lags on ``val`` (``fairness``)
   and zeroed for clusters whose generated items people mostly rejected so far;
3. a synthetic budget is allocated over clusters by deficit x weakness (``budget.allocate``),
   each cluster's items aimed at the classes the committee gets wrong there, and generated;
4. people verify the synthetic items (a proposed label: the target class) and real pool items
   ranked by an acquisition function weighted by cluster priority, group lag and, item by
   item, the density ratio p(pool | x) / p(D | x) of a classifier telling the remaining pool
   from D (``density_ratio``): a cluster is a coarse unit, and an item the seed set lacks may
   sit in a cluster D already fills — clusters the generator fails on get their share through
   real items instead. A real item is shown with the committee's pre-label to accept or
   correct (``assist``, model-assisted labelling: an accepted pre-label costs a verify, a
   corrected one a label, so it never costs more than labelling from scratch);
5. optionally (``pseudo_label``), what people did not see joins unpaid where the committee is
   sure: real candidates whose pre-label confidence reaches the threshold at which the
   committee's ``val`` pre-labels are right ``pseudo_precision`` of the time (as
   ``scale_only`` does), and synthetic items whose target class every member predicts with
   mean confidence >= ``pseudo_confidence``.

Re-targeting (``retarget``) reads the loop's per-round metrics in ``view.history``: a cluster
whose share in D stayed below its share in ``reference`` (``cluster_gap/<c>`` > 0) for the
last r of n completed rounds gets its allocation and acquisition weight raised by
1 + retarget * r / n, and a group whose probe accuracy on ``val`` stayed below the overall one
(``group_val_acc/<g>`` < ``probe_val_acc``) gets its acquisition weight raised by
1 + fairness * retarget * r / n; the boost ends as soon as it catches up. The deficit and group
lag above see only the current D and committee; this keeps pushing where lags persist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark.annotation import Annotation, Request
from benchmark.construction.acquisition import ACQUISITIONS
from benchmark.construction.assist import Committee, committee, confidence_threshold
from benchmark.method import (
    METHODS,
    Candidates,
    Method,
    Pseudo,
    RoundView,
    label_requests,
)
from benchmark.upstream import patterns as pt


@METHODS.register("adaptive")
class Adaptive(Method):
    """Targeted generation + uncertainty/diversity acquisition + human verification.

    ``synthetic_share``: share of a round's budget spent verifying generated items;
    ``tradeoff``: 0 allocates by deficit only, 1 by weakness only; ``fairness``: weight of the
    worst-group term (0 = off); ``min_accept``: a cluster whose generated items people accepted
    less often than this (after ``min_reviews``) gets no more synthetic items;
    ``retarget``: weight of the boosts from earlier rounds' metrics (0 = off, module docstring);
    ``density_ratio``: exponent of the per-item density-ratio weight of real items (0 = off);
    ``assist``: real items are verified with the committee's pre-label (False: labelled from
    scratch); ``pseudo_label`` (off by default) lets unreviewed candidates join where the
    committee is sure (module docstring, step 5); each of these options has the method's own
    special cases at one end (``synthetic_share: 0`` is model-assisted active learning with
    cluster and group weights), and ``tuning.grids`` tries them on ``val``.
    """

    name = "adaptive"

    def __init__(self, acquisition: str = "bald", synthetic_share: float = 0.5,
                 tradeoff: float = 0.5, fairness: float = 1.0, min_accept: float = 0.3,
                 min_reviews: int = 5, members: int = 5, pseudo_label: bool = False,
                 pseudo_confidence: float = 0.95, retarget: float = 1.0,
                 density_ratio: float = 1.0, assist: bool = True,
                 pseudo_precision: float = 0.95) -> None:
        self.acquisition, self.synthetic_share, self.tradeoff = (
            acquisition, synthetic_share, tradeoff)
        self.fairness, self.min_accept, self.min_reviews = fairness, min_accept, min_reviews
        self.members, self.pseudo_label = members, pseudo_label
        self.pseudo_confidence, self.retarget = pseudo_confidence, retarget
        self.density_ratio, self.assist = density_ratio, assist
        self.pseudo_precision = pseudo_precision

    # ------------------------------------------------------------------ propose
    def propose(self, view: RoundView) -> Candidates:
        table = self.pattern_table(view)
        self.table_ = table
        n_syn = int(view.budget * self.synthetic_share // view.costs["verify"])
        counts = _allocate(n_syn, table, self.tradeoff)
        labels, clusters = _targets(counts, table["class_need"])
        parts = [view.pool]
        if len(labels):
            parts.append(view.generate(len(labels), labels, clusters))
        view.log.update({"adaptive/synthetic_requested": float(len(labels)),
                        "adaptive/clusters_targeted": float((counts > 0).sum()),
                        "adaptive/clusters_failed": float(table["failed"].sum()),
                        "adaptive/clusters_boosted": float((table["cluster_boost"] > 1).sum()),
                        "adaptive/groups_boosted": float((table["group_boost"] > 1).sum())})
        return Candidates.concat(parts)

    def pattern_table(self, view: RoundView) -> dict[str, Any]:
        """Deficit, weakness, group lag, per-class need, generator failures and the
        re-targeting boosts per cluster (and per group).
        """
        found, k, z = view.patterns, view.patterns.k, view.embeddings
        z_d = view.embed(view.dataset.meta["item"])
        labels_d, labels_pool = found.assign(z_d), found.assign(z["pool"])
        labels_val = found.assign(z["val"])
        proba = pt.committee_proba(z_d, view.dataset.y, z["val"], view.n_classes,
                                   self.members, seed=view.seed * 1000 + view.round)
        wrong = proba.mean(0).argmax(1) != view.val.y
        weak = pt.weakness(labels_val, view.val.y, proba, k)
        lag = _group_lag(view.val.group, wrong)
        cluster_lag = np.nan_to_num(pt.cluster_mean(labels_val, lag[view.val.group], k))
        need = np.ones((k, view.n_classes))  # +1 smoothing: every class stays reachable
        np.add.at(need, (labels_val, view.val.y), 1.0 + 2.0 * wrong)
        cluster_boost = _boost(view.history, _cluster_gaps, k, self.retarget)
        group_boost = _boost(view.history, _group_gaps, len(lag), self.fairness * self.retarget)
        return {"k": k, "deficit": pt.deficit(labels_d, labels_pool, k),
                "weakness": weak.error, "group_lag": lag, "cluster_lag": cluster_lag,
                "fair_scale": (1.0 + self.fairness * cluster_lag / max(cluster_lag.max(), 1e-9))
                * cluster_boost, "cluster_boost": cluster_boost, "group_boost": group_boost,
                "class_need": need, "failed": self._failed(view.history, k)}

    def _failed(self, history: list[dict[str, Any]], k: int) -> np.ndarray:
        """Clusters whose generated items people accepted too rarely in earlier rounds."""
        n, ok = np.zeros(k), np.zeros(k)
        for log in history:
            for c, s in log.get("human_eval", {}).get("clusters", {}).items():
                if 0 <= int(c) < k:
                    n[int(c)] += s["n"]
                    ok[int(c)] += s["accepted"] * s["n"]
        return (n >= self.min_reviews) & (ok < self.min_accept * np.maximum(n, 1))

    # ------------------------------------------------------------------ select
    def select(self, cands: Candidates, view: RoundView) -> list[Request]:
        found = committee(view, cands, self.members)
        self.committee_ = found
        table, syn = self.table_, cands.synthetic
        cluster = view.patterns.assign(found.z)
        priority = _allocate(1000, table, self.tradeoff, respect_failures=False) + 1.0
        boost = np.where(table["failed"], 2.0, 1.0)  # failed clusters: real items instead
        weight = (priority * boost)[cluster] / priority.max()
        lag = table["group_lag"]
        known, at = cands.group >= 0, np.clip(cands.group, 0, len(lag) - 1)
        group_w = (1.0 + self.fairness * np.where(known, lag[at], 0.0) / max(lag.max(), 1e-9)
                   ) * np.where(known, table["group_boost"][at], 1.0)
        rule = ACQUISITIONS.get(self.acquisition)()
        real = np.flatnonzero(~syn)
        item_w = _rarity(found.z_dataset, found.z[real], self.density_ratio,
                         view.seed * 1000 + view.round)
        price = view.costs["verify" if self.assist else "label"]
        order = rule.order(found.proba[:, real], found.z[real], found.z_dataset,
                           int(view.budget // price) + 1, view.rng,
                           weight=(weight * group_w)[real] * item_w)
        synthetic = np.flatnonzero(syn)
        verify = label_requests(cands, synthetic, "verify", cands.meta["target_label"])
        if self.assist:
            return verify + label_requests(cands, real[order], "verify", found.prelabel)
        return verify + label_requests(cands, real[order])

    def incorporate(self, view: RoundView, cands: Candidates,
                    answers: list[Annotation]) -> Pseudo | None:
        if not self.pseudo_label:
            return None
        found, seen = self.committee_, {a.item for a in answers}
        synthetic = _confident_synthetic(cands, answers, found, self.pseudo_confidence)
        threshold = confidence_threshold(found.val_proba.mean(0), view.val.y,
                                         self.pseudo_precision)
        view.log["pseudo_threshold"] = threshold
        real = [i for i in np.flatnonzero(~cands.synthetic & (found.mean.max(axis=1)
                                                              >= threshold))
                if str(cands.items[i]) not in seen]
        rows = np.concatenate([synthetic.index, np.asarray(real, np.int64)])
        return Pseudo(rows, np.concatenate([synthetic.label, found.prelabel[real]]))


def _allocate(n: int, table: dict[str, Any], tradeoff: float,
              respect_failures: bool = True) -> np.ndarray:
    from benchmark.upstream.generators.budget import allocate

    scale = table["fair_scale"] * (~table["failed"] if respect_failures else 1.0)
    return allocate(n, table["deficit"], table["weakness"], tradeoff, scale=scale)


def _rarity(z_d: np.ndarray, z_pool: np.ndarray, power: float, seed: int) -> np.ndarray:
    """Per pool item, (w / mean w) ** ``power`` with w = p / (1 - p) the density ratio of a
    cross-fitted classifier telling the pool from D (``benchmark.upstream.patterns.density_ratio``):
    above 1 where the pool has items D lacks. Ones when off or with too few items to fit.
    """
    if power == 0 or len(z_d) < 2 or len(z_pool) < 2:
        return np.ones(len(z_pool))
    p = np.clip(pt.density_ratio(z_d, z_pool, seed=seed), 0.02, 0.98)  # w in [1/49, 49]
    w = p / (1.0 - p)
    return (w / w.mean()) ** power


def _targets(counts: np.ndarray, need: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster, its count split over classes in proportion to the need (largest
    remainder): the (label, cluster) request of every item to generate.
    """
    labels, clusters = [], []
    for c in np.flatnonzero(counts):
        share = counts[c] * need[c] / need[c].sum()
        per = np.floor(share).astype(int)
        per[np.argsort(-(share - per), kind="stable")[: counts[c] - per.sum()]] += 1
        for label in np.flatnonzero(per):
            labels += [label] * per[label]
            clusters += [c] * per[label]
    return np.asarray(labels, np.int64), np.asarray(clusters, np.int64)


def _boost(history: list[dict[str, Any]], gaps: Callable[[dict[str, Any], int], np.ndarray],
           size: int, weight: float) -> np.ndarray:
    """Per index: 1 + weight * r / n, r = latest rounds in a row whose gap was positive, n =
    completed rounds (1 everywhere before the first round, or without the metrics).
    """
    streak, lagging = np.zeros(size), np.ones(size, dtype=bool)
    for log in reversed(history):
        lagging &= gaps(log, size) > 0  # nan (metric missing) ends a streak
        streak += lagging
    return 1.0 + weight * streak / max(len(history), 1)


def _cluster_gaps(log: dict[str, Any], k: int) -> np.ndarray:
    """Per cluster: its ``reference`` share minus its share in D after that round."""
    return np.array([log.get(f"cluster_gap/{c}", np.nan) for c in range(k)], np.float64)


def _group_gaps(log: dict[str, Any], n: int) -> np.ndarray:
    """Per group: how far the round's probe accuracy on its ``val`` items trailed the overall."""
    overall = log.get("probe_val_acc", np.nan)
    return np.array([overall - log.get(f"group_val_acc/{g}", np.nan) for g in range(n)],
                    np.float64)


def _group_lag(group: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Per group: how far its committee accuracy on ``val`` trails the overall accuracy."""
    n = int(group.max()) + 1 if len(group) else 0
    count = np.bincount(group, minlength=n)
    acc = 1.0 - np.bincount(group, weights=wrong.astype(float), minlength=n) / np.maximum(
        count, 1)
    overall = 1.0 - wrong.mean() if len(wrong) else 1.0
    return np.where(count > 0, np.maximum(overall - acc, 0.0), 0.0)


def _confident_synthetic(cands: Candidates, answers: list[Annotation], found: Committee,
                         confidence: float) -> Pseudo:
    """Unreviewed synthetic items whose target class every member predicts, confidently."""
    seen = {a.item for a in answers}
    target = cands.meta["target_label"]
    votes = found.proba.argmax(axis=2)
    agree = (votes == target[None, :]).all(axis=0)
    sure = found.mean[np.arange(len(cands)), np.clip(target, 0, None)] >= confidence
    rows = [i for i in np.flatnonzero(cands.synthetic & agree & sure)
            if str(cands.items[i]) not in seen]
    rows_a = np.asarray(rows, np.int64)
    return Pseudo(rows_a, target[rows_a])
