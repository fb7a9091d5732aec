"""Honest measurement of a generator against held-out real data, in the domain's encoder space.

* targeting accuracy: share of targeted samples whose embedding falls in the requested cluster
  *and* whose judged label equals the requested label; chance is the same event for real
  held-out items labelled by the *same* judge (how often a random real item already matches the
  request), so a judge's bias towards some class cannot pass for targeting.
* PRDC (Naeem et al. 2020, k = 5): precision, recall, density, coverage.
* Frechet distance with torchmetrics' FID and the encoder as its ``feature`` module; real sets
  are compared through seeded random subsamples of the generated sample's size (splits may be
  stored in a structured order, e.g. by episode, so a prefix is not a random sample).
* TSTR: a linear probe trained on synthetic vs on as many real items, both tested on real ``val``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

Judge = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``judge(x_raw, z) -> labels``: labels items from their raw form and/or their embeddings."""


def annotator(z: np.ndarray, y: np.ndarray, seed: int) -> Pipeline:
    """The reference annotator: a logistic regression on embeddings of the ``reference`` split
    (real, labelled, never used to train the generator).
    """
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)
                         ).fit(z, y)


def embedding_judge(z: np.ndarray, y: np.ndarray, seed: int) -> Judge:
    """The default judge: the reference annotator, which reads only the embeddings."""
    model = annotator(z, y, seed)
    return lambda x_raw, z_items: np.asarray(model.predict(z_items))


def subsample(n: int, size: int, seed: int, stream: int = 0) -> np.ndarray:
    """Sorted indices of ``min(size, n)`` distinct items out of ``n``, drawn at random and
    deterministically from ``(seed, stream)``; distinct streams give independent draws.
    """
    rng = np.random.default_rng([seed, stream])
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def targeting(hit_cluster: np.ndarray, hit_label: np.ndarray) -> dict[str, float]:
    """Shares of targeted samples that hit the requested cluster, label, and both."""
    return {"acc": float(np.mean(hit_cluster & hit_label)),
            "cluster_acc": float(np.mean(hit_cluster)), "label_acc": float(np.mean(hit_label))}


def chance(req_label: np.ndarray, req_cluster: np.ndarray, real_label: np.ndarray,
           real_cluster: np.ndarray) -> float:
    """Mean over requests of the share of real items with that (label, cluster); pass the judge's
    labels of the real items so that chance and targeting accuracy share one labeller.
    """
    hits = (real_label[None, :] == req_label[:, None]) & (real_cluster[None, :]
                                                          == req_cluster[:, None])
    return float(hits.mean())


def _cdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact pairwise Euclidean distances (float64, no matrix-product shortcut)."""
    a64, b64 = (torch.as_tensor(np.asarray(v, np.float64)) for v in (a, b))
    return torch.cdist(a64, b64, compute_mode="donot_use_mm_for_euclid_dist").numpy()


def _kth(d: np.ndarray, k: int) -> np.ndarray:
    """Distance to the k-th nearest neighbour within a set, the item itself excluded."""
    d = d.copy()
    np.fill_diagonal(d, np.inf)
    return np.partition(d, k - 1, axis=1)[:, k - 1]


def knn_radii(z: np.ndarray, k: int = 5) -> np.ndarray:
    """Each item's distance to its k-th nearest neighbour in ``z`` (itself excluded)."""
    return _kth(_cdist(z, z), k)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5,
         real_radii: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al.).
    ``real_radii`` (``knn_radii(real, k)``) saves the real-real distances when ``real`` is
    measured against many sets, as the construction loop does every round.
    """
    if not 1 <= k < min(len(real), len(fake)):
        raise ValueError(f"prdc: k = {k} needs more than k items in both sets, "
                         f"got {len(real)} real and {len(fake)} fake")
    r_rad = knn_radii(real, k) if real_radii is None else real_radii
    f_rad = knn_radii(fake, k)
    rf = _cdist(real, fake)
    inside = rf < r_rad[:, None]  # [real i, fake j]: fake j in real i's k-NN ball
    return {"precision": float(inside.any(axis=0).mean()),
            "recall": float((rf < f_rad[None, :]).any(axis=1).mean()),
            "density": float(inside.sum(axis=0).mean() / k),
            "coverage": float(inside.any(axis=1).mean())}


class _Embedding(torch.nn.Module):
    """FID ``feature`` module: raw items -> encoder embeddings (the domain's own space)."""

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray], dim: int) -> None:
        super().__init__()
        self.embed, self.num_features = embed, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.embed(x.numpy()), dtype=torch.float64)


def frechet(embed: Callable[[np.ndarray], np.ndarray], dim: int, real: np.ndarray,
            fake: np.ndarray) -> float:
    """Frechet distance between the Gaussians fitted to ``embed(real)`` and ``embed(fake)``."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=_Embedding(embed, dim), normalize=True)
    fid.update(torch.as_tensor(real), real=True)
    fid.update(torch.as_tensor(fake), real=False)
    return float(fid.compute())


def _probe_acc(z: np.ndarray, y: np.ndarray, z_val: np.ndarray, y_val: np.ndarray,
               seed: int) -> float:
    """Val accuracy of a probe trained on (z, y); a one-class set predicts that class."""
    if len(np.unique(y)) < 2:
        return float(np.mean(y_val == y[0]))
    return float(annotator(z, y, seed).score(z_val, y_val))


def tstr(z_syn: np.ndarray, y_syn: np.ndarray, z_real: np.ndarray, y_real: np.ndarray,
         z_val: np.ndarray, y_val: np.ndarray, seed: int) -> dict[str, float]:
    """Val accuracy of a probe trained on synthetic items, on as many real ones, and their ratio;
    the larger set is subsampled (seeded) so the ratio compares quality, not quantity.
    """
    n = min(len(z_syn), len(z_real))
    syn_i, real_i = subsample(len(z_syn), n, seed, 0), subsample(len(z_real), n, seed, 1)
    syn = _probe_acc(z_syn[syn_i], y_syn[syn_i], z_val, y_val, seed)
    real = _probe_acc(z_real[real_i], y_real[real_i], z_val, y_val, seed)
    return {"acc_synthetic": syn, "acc_real": real,
            "ratio": syn / real if real > 0 else float("nan"), "n": n}
