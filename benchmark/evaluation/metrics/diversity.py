"""Functional diversity and quality of a constructed dataset D itself, not of a model trained on it.

The downstream metrics (``benchmark.evaluation.metrics``) say how well a model trained on D does;
they do not say *why*. These figures describe D directly, so that methods can be compared on what
they built:

* diversity: occupancy entropy of the frozen pattern clusters (``cluster_entropy``), the Vendi
  score of D's embeddings (``vendi``, Friedman & Dieng 2023) and PRDC of D's embeddings (fake)
  against the ``reference`` split's (real) (``prdc``, Naeem et al. 2020);
* label quality: agreement with the ground truth where it is known (``label_accuracy``), the
  share of items cleanlab flags as likely label issues (``label_issue_rate``) and the agreement
  of the committee on held-out items (``committee_consistency``);
* composition: the share of each fairness group in D and its total-variation distance from the
  pool's (``group_composition``, ``composition_gap``).

``prdc`` is ``benchmark.upstream.generators.measure.prdc`` and ``committee_consistency`` is
``benchmark.construction.acquisition.agreement``, re-exported rather than copied. ``prdc`` is
resolved on first access because importing ``benchmark.upstream.generators`` loads diffusers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.construction.acquisition import agreement as committee_consistency

if TYPE_CHECKING:
    from benchmark.upstream.generators.measure import prdc

__all__ = [
    "cluster_entropy",
    "committee_consistency",
    "composition_gap",
    "coverage_density",
    "group_composition",
    "label_accuracy",
    "label_issue_rate",
    "prdc",
    "vendi",
]


def __getattr__(name: str) -> Any:
    """Lazy re-export of ``prdc`` (PEP 562), so importing this module does not load diffusers."""
    if name == "prdc":
        from benchmark.upstream.generators.measure import prdc

        return prdc
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _log_hill(p: np.ndarray, q: float) -> float:
    """Log of the Hill number of order ``q`` of a distribution ``p``; the Shannon entropy
    ``-sum p log p`` (nats, 0 log 0 = 0) for ``q = 1`` and ``-log max p`` for ``q = inf``.
    """
    p = p[p > 0]
    if q == 1:
        return float(-(p * np.log(p)).sum())
    if math.isinf(q):
        return float(-np.log(p.max()))
    return float(np.log((p**q).sum()) / (1 - q))


def cluster_entropy(labels: np.ndarray, k: int) -> dict[str, float]:
    """Evenness of D's occupancy of ``k`` clusters: ``entropy`` H (nats, empty clusters add 0),
    ``normalized`` H / log k (1 = even, 0 = one cluster) and ``effective`` exp(H), the effective
    number of occupied clusters. With ``k = 1`` ``normalized`` is 1.0 by convention (one cluster
    is trivially even); every value is nan for an empty D.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if k < 1 or labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"cluster_entropy: labels must lie in [0, {k}) with k >= 1")
    if labels.size == 0:
        return {"entropy": math.nan, "normalized": math.nan, "effective": math.nan}
    h = _log_hill(np.bincount(labels, minlength=k) / labels.size, 1)
    return {"entropy": h, "normalized": h / math.log(k) if k > 1 else 1.0,
            "effective": math.exp(h)}


def coverage_density(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """The outlier-robust half of PRDC: ``coverage`` (share of real k-NN balls holding a fake
    item) and ``density`` of ``fake`` (D) against ``real`` (the ``reference`` split).
    """
    from benchmark.upstream.generators.measure import prdc

    full = prdc(real, fake, k)
    return {"coverage": full["coverage"], "density": full["density"]}


def _unit_rows(z: np.ndarray) -> np.ndarray:
    """The rows of ``z`` (n, d) scaled to unit Euclidean length, in float64."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(f"vendi: expected a non-empty (n, d) array, got shape {z.shape}")
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError("vendi: a zero row has no direction (cosine similarity undefined)")
    return z / norms


def vendi(z: np.ndarray, q: float = 1.0, *, dual: bool | None = None) -> float:
    """Vendi score of the rows of ``z``: the exponential of the order-``q`` entropy of the
    eigenvalues of K / n, K the cosine-similarity kernel (``exp(-sum l log l)`` for ``q = 1``).
    1 for n copies of one item, n for n orthogonal items. ``dual`` uses the d x d matrix
    Z^T Z / n (same non-zero eigenvalues); by default it does so when d < n. Eigenvalues below
    numpy's rank tolerance count as 0.
    """
    if q < 0:
        raise ValueError(f"vendi: order q must be >= 0, got {q}")
    zn = _unit_rows(z)
    n, d = zn.shape
    use_dual = d < n if dual is None else dual
    gram = zn.T @ zn if use_dual else zn @ zn.T
    lam = np.linalg.eigvalsh(gram / n)
    lam[lam <= lam.max() * max(n, d) * np.finfo(np.float64).eps] = 0.0
    return math.exp(_log_hill(lam, q))


def label_accuracy(y_dataset: np.ndarray, y_true: np.ndarray, known: np.ndarray) -> float:
    """Share of D's items whose label equals the ground truth, over the items where the truth is
    known (boolean mask ``known``); nan when it is known for none.
    """
    y_dataset, y_true = np.asarray(y_dataset).ravel(), np.asarray(y_true).ravel()
    known = np.asarray(known, dtype=bool).ravel()
    if not len(y_dataset) == len(y_true) == len(known):
        raise ValueError("label_accuracy: y_dataset, y_true and known need one length")
    if not known.any():
        return math.nan
    return float(np.mean(y_dataset[known] == y_true[known]))


def out_of_fold_proba(z: np.ndarray, y: np.ndarray, seed: int, folds: int) -> np.ndarray:
    """Out-of-fold class probabilities of a standardised logistic regression on ``z``; ``y``
    holds 0..K-1. A class absent from a training fold gets probability 0 there.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    cv = StratifiedKFold(min(folds, int(np.bincount(y).max())), shuffle=True, random_state=seed)
    return cross_val_predict(model, np.asarray(z, np.float64), y, cv=cv, method="predict_proba")


def label_issue_rate(z: np.ndarray, y: np.ndarray, pred_probs: np.ndarray | None = None, *,
                     seed: int = 0, folds: int = 5) -> float:
    """Share of D's items that cleanlab's ``find_label_issues`` flags as likely mislabelled.

    ``pred_probs`` (n, K) should be out-of-sample, with ``y`` in 0..K-1. Without it, ``folds``-fold
    out-of-fold probabilities of a logistic regression on the embeddings ``z`` are used (labels
    remapped to the classes present); nan with fewer than two classes or items per fold.
    """
    from cleanlab.filter import find_label_issues

    y = np.asarray(y).ravel()
    if len(y) != len(z):
        raise ValueError(f"label_issue_rate: {len(z)} embeddings but {len(y)} labels")
    if pred_probs is None:
        classes, y = np.unique(y, return_inverse=True)
        if len(classes) < 2 or min(folds, int(np.bincount(y).max())) < 2:
            return math.nan
        pred_probs = out_of_fold_proba(z, y, seed, folds)
    issues = find_label_issues(y.astype(np.int64), np.asarray(pred_probs, np.float64), n_jobs=1)
    return float(np.mean(issues))


def _group_ids(group: np.ndarray, n_groups: int) -> np.ndarray:
    """Group ids as int64, checked to lie in -1 (unknown) .. n_groups - 1."""
    group = np.asarray(group, dtype=np.int64).ravel()
    if group.size and (group.min() < -1 or group.max() >= n_groups):
        raise ValueError(f"group ids must lie in -1 (unknown) .. {n_groups - 1}")
    return group


def group_composition(group: np.ndarray, n_groups: int) -> dict[str, float]:
    """Share of D's items in each group, keyed ``"0"`` .. ``str(n_groups - 1)`` and ``"unknown"``
    (id -1); the shares sum to 1 (all nan for an empty D).
    """
    group = _group_ids(group, n_groups)
    counts = np.bincount(group + 1, minlength=n_groups + 1)
    shares = counts / group.size if group.size else np.full(n_groups + 1, math.nan)
    return {"unknown": float(shares[0]), **{str(g): float(s) for g, s in enumerate(shares[1:])}}


def composition_gap(group_d: np.ndarray, group_pool: np.ndarray, n_groups: int) -> float:
    """Total-variation distance 1/2 sum_g |p_D(g) - p_pool(g)| between the group shares of D and
    of the pool, each over its items of known group; nan if either has none.
    """
    shares = []
    for group in (group_d, group_pool):
        group = _group_ids(group, n_groups)
        counts = np.bincount(group[group >= 0], minlength=n_groups)
        if counts.sum() == 0:
            return math.nan
        shares.append(counts / counts.sum())
    return float(0.5 * np.abs(shares[0] - shares[1]).sum())
