"""Generators: shapes, dtypes and ranges per modality, provenance, save / load round trip,
conditioning that changes the output distribution, and the measures on known cases.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.generators import build, load, measure, sample
from benchmark.generators.model import CLIP
from benchmark.generators.train import fit

SHAPES = {"image": (3, 16, 16), "sequence": (3, 64), "tabular": (25,)}


def _tiny(modality: str, steps: int = 3, n: int = 64):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(n, *SHAPES[modality])) * 2 + 5).astype(np.float32)
    y, c = rng.integers(0, 2, n), rng.integers(0, 3, n)
    gen = build(modality, x, 2, 3, [16, 32], 32, 100)
    fit(gen, x, y, c, steps, 32, 1e-3, 0.1, 0)
    return gen, x


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_samples_have_shape_dtype_range_and_provenance(modality: str) -> None:
    gen, x = _tiny(modality)
    out, meta = sample(gen, 5, label=1, cluster=np.array([0, 1, 2, 0, 1]), steps=3)
    assert out.shape == (5, *SHAPES[modality]) and out.dtype == np.float32
    assert np.isfinite(out).all()
    scaled = gen.scale(out)
    assert np.abs(scaled).max() <= CLIP * 1.5  # clipped x0 keeps items near the data's scale
    assert meta["synthetic"].all() and (meta["target_label"] == 1).all()
    assert list(meta["target_cluster"]) == [0, 1, 2, 0, 1]
    assert set(meta["sampler"]) == {"ddim"} and (meta["steps"] == 3).all()
    free, free_meta = sample(gen, 4, sampler="dpm", steps=3)
    assert free.shape == (4, *SHAPES[modality]) and (free_meta["target_label"] == -1).all()
    assert (free_meta["guidance"] == 0).all()


@pytest.mark.parametrize("modality", sorted(SHAPES))
def test_save_load_round_trip(modality: str, tmp_path) -> None:
    gen, _ = _tiny(modality, steps=2)
    gen.save(tmp_path / "g")
    again = load(tmp_path / "g")
    a, _ = sample(gen, 3, label=0, cluster=1, steps=2, seed=7)
    b, _ = sample(again, 3, label=0, cluster=1, steps=2, seed=7)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(again.mean, gen.mean)


def test_conditioning_changes_the_output_distribution() -> None:
    """A tiny tabular model trained on two well-separated classes: a classifier tells samples of
    label 0 from samples of label 1 far better than chance.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 512)
    x = (rng.normal(size=(512, 4)) + np.where(y[:, None] == 1, 2.0, -2.0)).astype(np.float32)
    gen = build("tabular", x, 2, 1, [16, 32], 64, 100)
    fit(gen, x, y, np.zeros_like(y), 400, 128, 3e-3, 0.1, 0)
    a, _ = sample(gen, 100, label=0, cluster=0, steps=10, seed=1)
    b, _ = sample(gen, 100, label=1, cluster=0, steps=10, seed=2)
    feats, target = np.concatenate([a, b]), np.repeat([0, 1], 100)
    acc = cross_val_score(LogisticRegression(), feats, target, cv=5).mean()
    assert acc > 0.8


def test_prdc_on_identical_and_disjoint_sets() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4)).astype(np.float32)
    same = measure.prdc(real, real.copy())
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = measure.prdc(real, real + 100.0)
    assert far["precision"] == 0.0 and far["coverage"] == 0.0 and far["density"] == 0.0


def test_frechet_with_custom_feature_module() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 3)).astype(np.float32)
    embed = lambda x: np.asarray(x, np.float32)  # noqa: E731
    near = measure.frechet(embed, 3, real, rng.normal(size=(200, 3)).astype(np.float32))
    far = measure.frechet(embed, 3, real, rng.normal(3, 1, size=(200, 3)).astype(np.float32))
    assert 0 <= near < 0.5 < far


def test_chance_is_the_share_of_matching_real_items() -> None:
    real_l, real_c = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    assert measure.chance(np.array([0]), np.array([1]), real_l, real_c) == 0.25


def test_budget_follows_deficit_weakness_and_tradeoff() -> None:
    from benchmark.generators.budget import allocate

    deficit, weakness = np.array([0.3, 0.0, -0.2]), np.array([0.0, 0.5, 0.1])
    by_gap = allocate(100, deficit, weakness, tradeoff=0.0)
    by_error = allocate(100, deficit, weakness, tradeoff=1.0)
    assert by_gap.sum() == by_error.sum() == 100
    assert by_gap.argmax() == 0 and by_error.argmax() == 1
    assert allocate(7, deficit, weakness).sum() == 7
    with pytest.raises(ValueError):
        allocate(10, deficit, weakness, tradeoff=2.0)
