"""Honest measurement of a generator against held-out real data, in the domain's encoder space.

* targeting accuracy: share of targeted samples whose embedding falls in the requested cluster
  *and* whose annotator label equals the requested label; chance is the same event for real
  held-out items (how often a random real item already matches the request).
* PRDC (Naeem et al. 2020, k = 5): precision, recall, density, coverage.
* Frechet distance with torchmetrics' FID and the encoder as its ``feature`` module.
* TSTR: a linear probe trained on synthetic vs on real items, both tested on real ``val``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler


def annotator(z: np.ndarray, y: np.ndarray, seed: int) -> Pipeline:
    """The reference annotator: a logistic regression on embeddings of the ``reference`` split
    (real, labelled, never used to train the generator).
    """
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)
                         ).fit(z, y)


def targeting(hit_cluster: np.ndarray, hit_label: np.ndarray) -> dict[str, float]:
    return {"acc": float(np.mean(hit_cluster & hit_label)),
            "cluster_acc": float(np.mean(hit_cluster)), "label_acc": float(np.mean(hit_label))}


def chance(req_label: np.ndarray, req_cluster: np.ndarray, real_label: np.ndarray,
           real_cluster: np.ndarray) -> float:
    """Mean over requests of the share of real items with that (label, cluster)."""
    hits = (real_label[None, :] == req_label[:, None]) & (real_cluster[None, :]
                                                          == req_cluster[:, None])
    return float(hits.mean())


def _kth(d: np.ndarray, k: int) -> np.ndarray:
    """Distance to the k-th nearest neighbour within a set (column 0 is the item itself)."""
    return np.sort(d, axis=1)[:, k]


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` (Naeem et al.)."""
    cd = lambda a, b: torch.cdist(torch.as_tensor(a), torch.as_tensor(b)).numpy()  # noqa: E731
    r_rad, f_rad = _kth(cd(real, real), k), _kth(cd(fake, fake), k)
    rf = cd(real, fake)
    inside = rf < r_rad[:, None]
    return {"precision": float(inside.any(axis=0).mean()),
            "recall": float((rf < f_rad[None, :]).any(axis=1).mean()),
            "density": float(inside.sum(axis=0).mean() / k),
            "coverage": float((rf.min(axis=1) < r_rad).mean())}


class _Embedding(torch.nn.Module):
    """FID ``feature`` module: raw items -> encoder embeddings (the domain's own space)."""

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray], dim: int) -> None:
        super().__init__()
        self.embed, self.num_features = embed, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.embed(x.numpy()), dtype=torch.float64)


def frechet(embed: Callable[[np.ndarray], np.ndarray], dim: int, real: np.ndarray,
            fake: np.ndarray) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=_Embedding(embed, dim), normalize=True)
    fid.update(torch.as_tensor(real), real=True)
    fid.update(torch.as_tensor(fake), real=False)
    return float(fid.compute())


def tstr(z_syn: np.ndarray, y_syn: np.ndarray, z_real: np.ndarray, y_real: np.ndarray,
         z_val: np.ndarray, y_val: np.ndarray, seed: int) -> dict[str, float]:
    """Val accuracy of a probe trained on synthetic items, on real ones, and their ratio."""
    syn = annotator(z_syn, y_syn, seed).score(z_val, y_val)
    real = annotator(z_real, y_real, seed).score(z_val, y_val)
    return {"acc_synthetic": float(syn), "acc_real": float(real),
            "ratio": float(syn / real) if real > 0 else float("nan")}
