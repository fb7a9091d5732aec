"""Generators: shapes, dtypes and ranges per modality, provenance, save / load round trip,
conditioning that changes the output distribution, and the measures on known cases.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.upstream.generators import build, load, measure, sample
from benchmark.upstream.generators.model import CLIP
from benchmark.upstream.generators.train import fit

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


def test_the_schedule_targets_tiny_items_and_survives_a_round_trip(tmp_path) -> None:
    """v-prediction on a cosine schedule with trailing spacing, kept by save / load."""
    gen, _ = _tiny("image", steps=2)
    cfg = gen.scheduler.config
    assert (cfg.prediction_type, cfg.beta_schedule, cfg.timestep_spacing) == (
        "v_prediction", "squaredcos_cap_v2", "trailing")
    gen.save(tmp_path / "g")
    again = load(tmp_path / "g").scheduler.config
    assert (again.prediction_type, again.beta_schedule) == ("v_prediction", "squaredcos_cap_v2")
    eps = build("image", np.zeros((4, 3, 16, 16), np.float32), 2, 3, [16], 32, 100,
                prediction="epsilon", schedule="linear")
    assert eps.scheduler.config.prediction_type == "epsilon"


def test_static_sequence_channels_are_sampled_constant_along_time(tmp_path) -> None:
    """A channel constant within every training item (a site's coordinates) stays constant in
    every sample, at a value seen in training, before and after save / load; the varying
    channels still vary.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3, 64)).astype(np.float32)
    x[:, 2] = rng.choice([-1.0, 0.5, 1.0], size=64)[:, None]
    gen = build("sequence", x, 2, 3, [16, 32], 32, 100)
    assert gen.static == (2,)
    fit(gen, x, rng.integers(0, 2, 64), rng.integers(0, 3, 64), 2, 32, 1e-3, 0.1, 0)
    gen.save(tmp_path / "g")
    for g in (gen, load(tmp_path / "g")):
        assert g.static == (2,)
        out, _ = sample(g, 4, label=1, cluster=0, steps=3)
        assert np.ptp(out[:, 2], axis=1).max() < 1e-4 and np.ptp(out[:, 0], axis=1).min() > 0
        # few distinct values in training (three sites): each sample takes one of them
        assert np.isin(out[:, 2, 0].round(4), [-1.0, 0.5, 1.0]).all()


def test_ema_and_min_snr_change_training_yet_a_seed_fixes_it() -> None:
    """Same seed, same recipe: identical weights; EMA on vs off: different weights."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3, 16, 16)).astype(np.float32)
    y, c = rng.integers(0, 2, 64), rng.integers(0, 3, 64)

    def weights(**kw) -> np.ndarray:
        gen = build("image", x, 2, 3, [16], 32, 100)
        losses = fit(gen, x, y, c, 4, 32, 1e-3, 0.1, 0, **kw)
        assert len(losses) == 4 and np.isfinite(losses).all()
        return torch.cat([p.detach().ravel() for p in gen.denoiser.parameters()]).numpy()

    first = weights()
    np.testing.assert_array_equal(first, weights())
    assert not np.allclose(first, weights(ema=0.0))
    assert np.isfinite(weights(snr_gamma=0.0)).all()


def test_generator_params_validate_the_recipe() -> None:
    from benchmark.config import GeneratorParams

    GeneratorParams(prediction="epsilon", schedule="linear", snr_gamma=0.0, ema=0.0)
    for bad in ({"prediction": "sample"}, {"schedule": "cosine"}, {"snr_gamma": -1.0},
                {"ema": 1.0}):
        with pytest.raises(ValueError):
            GeneratorParams(**bad)


def _naeem_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """PRDC written out from Naeem et al. 2020 with plain loops, independent of ``measure``."""
    from scipy.spatial.distance import euclidean

    def radius(points: np.ndarray, i: int) -> float:  # k-th neighbour, the point itself excluded
        return sorted(euclidean(points[i], points[j]) for j in range(len(points)) if j != i)[k - 1]

    r_rad = [radius(real, i) for i in range(len(real))]
    f_rad = [radius(fake, j) for j in range(len(fake))]
    in_real = [[euclidean(f, r) < r_rad[i] for i, r in enumerate(real)] for f in fake]
    in_fake = [[euclidean(r, f) < f_rad[j] for j, f in enumerate(fake)] for r in real]
    return {"precision": sum(any(row) for row in in_real) / len(fake),
            "recall": sum(any(row) for row in in_fake) / len(real),
            "density": sum(sum(row) for row in in_real) / (k * len(fake)),
            "coverage": sum(any(in_real[j][i] for j in range(len(fake)))
                            for i in range(len(real))) / len(real)}


@pytest.mark.parametrize("k", [3, 5])
def test_prdc_matches_an_independent_implementation_on_overlapping_sets(k: int) -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(60, 4))
    fake = rng.normal(0.6, 1.4, size=(50, 4))
    expected = _naeem_prdc(real, fake, k)
    # the data tell the listed bugs apart: k+1-th neighbour, swapped precision and recall,
    # density not divided by k, and nothing saturates at 0 or 1
    assert expected != _naeem_prdc(real, fake, k + 1)
    assert abs(expected["precision"] - expected["recall"]) > 0.05
    assert all(0.0 < v < 1.0 for key, v in expected.items() if key != "density")
    assert expected["density"] > 0.1
    got = measure.prdc(real, fake, k=k)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    assert measure.prdc(real.astype(np.float32), fake.astype(np.float32), k=k) == got


def test_prdc_on_a_hand_computed_case() -> None:
    """1-d, k = 2. Real radii (2nd neighbour): 0->3, 1->2, 3->3, 20->19; fake radii: 0.5->9.5,
    2.8->7.2, 10->7.2, 10.5->7.7. Real balls hold fakes 0.5: 3 times, 2.8: 4, 10: 1, 10.5: 1
    (the last three only via real 20); no fake ball reaches real 20.
    """
    real = np.array([[0.0], [1.0], [3.0], [20.0]])
    fake = np.array([[0.5], [2.8], [10.0], [10.5]])
    got = measure.prdc(real, fake, k=2)
    assert got == pytest.approx({"precision": 1.0, "recall": 0.75, "density": 9 / 8,
                                 "coverage": 1.0}, abs=1e-12)
    assert _naeem_prdc(real, fake, 2) == pytest.approx(got, abs=1e-12)
    with pytest.raises(ValueError, match="k = 4"):
        measure.prdc(real, fake, k=4)


def test_prdc_on_identical_and_disjoint_sets() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4)).astype(np.float32)
    same = measure.prdc(real, real.copy())
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0
    far = measure.prdc(real, real + 100.0)
    assert far["precision"] == 0.0 and far["coverage"] == 0.0 and far["density"] == 0.0


def _identity(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64)


def _frechet_by_hand(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(mean term, covariance term) of ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    from scipy.linalg import sqrtm

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    mean_term = float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2))
    return mean_term, float(np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2))))


def test_frechet_matches_the_closed_form_on_overlapping_sets() -> None:
    rng = np.random.default_rng(2)
    real = rng.normal(size=(300, 3)) @ np.array([[1.0, 0.4, 0.0], [0.0, 0.8, 0.3], [0, 0, 0.5]])
    fake = rng.normal(0.4, 1.0, size=(250, 3)) @ np.array([[1.5, 0, 0], [0.6, 0.7, 0],
                                                           [0, 0.2, 1.2]])
    mean_term, cov_term = _frechet_by_hand(real, fake)
    assert cov_term > mean_term > 0.1  # a mean-only or covariance-only distance is far off
    got = measure.frechet(_identity, 3, real, fake)
    assert got == pytest.approx(mean_term + cov_term, rel=1e-3)
    assert measure.frechet(_identity, 3, fake, real) == pytest.approx(got, rel=1e-6)


def test_frechet_real_vs_real_is_below_real_vs_shifted() -> None:
    rng = np.random.default_rng(0)
    real, again = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    near = measure.frechet(_identity, 3, real, again)
    far = measure.frechet(_identity, 3, real, again + np.array([1.0, 0.0, 0.0]))
    wide = measure.frechet(_identity, 3, real, again * 2.0)
    assert 0 <= near < 0.5 < far and near < wide


def test_subsample_is_seeded_random_and_of_the_requested_size() -> None:
    idx = measure.subsample(1000, 128, seed=3)
    assert len(idx) == 128 and len(np.unique(idx)) == 128 and idx.min() >= 0 and idx.max() < 1000
    assert (idx >= 500).sum() > 30 and (idx < 500).sum() > 30  # spread, not a prefix
    np.testing.assert_array_equal(idx, measure.subsample(1000, 128, seed=3))
    assert not np.array_equal(idx, measure.subsample(1000, 128, seed=4))
    assert not np.array_equal(idx, measure.subsample(1000, 128, seed=3, stream=1))
    np.testing.assert_array_equal(measure.subsample(5, 128, seed=0), np.arange(5))


def test_tstr_trains_both_probes_on_as_many_items(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    y_real, y_syn, y_val = rng.integers(0, 2, 300), rng.integers(0, 2, 40), rng.integers(0, 2, 80)
    z_real, z_syn, z_val = (rng.normal(size=(len(y), 3)) + y[:, None]
                            for y in (y_real, y_syn, y_val))
    sizes: list[int] = []
    fit = measure.annotator

    def counting(z: np.ndarray, y: np.ndarray, seed: int):
        sizes.append(len(z))
        return fit(z, y, seed)

    monkeypatch.setattr(measure, "annotator", counting)
    out = measure.tstr(z_syn, y_syn, z_real, y_real, z_val, y_val, seed=0)
    assert sizes == [40, 40] and out["n"] == 40
    assert out == measure.tstr(z_syn, y_syn, z_real, y_real, z_val, y_val, seed=0)
    assert out["ratio"] == pytest.approx(out["acc_synthetic"] / out["acc_real"])
    one_class = measure.tstr(z_syn, np.ones(40, int), z_real, y_real, z_val, y_val, seed=0)
    assert one_class["acc_synthetic"] == pytest.approx(np.mean(y_val == 1))


def test_chance_is_the_share_of_matching_real_items() -> None:
    real_l, real_c = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    assert measure.chance(np.array([0]), np.array([1]), real_l, real_c) == 0.25


def test_budget_follows_deficit_weakness_and_tradeoff() -> None:
    from benchmark.upstream.generators.budget import allocate

    deficit, weakness = np.array([0.3, 0.0, -0.2]), np.array([0.0, 0.5, 0.1])
    by_gap = allocate(100, deficit, weakness, tradeoff=0.0)
    by_error = allocate(100, deficit, weakness, tradeoff=1.0)
    assert by_gap.sum() == by_error.sum() == 100
    assert by_gap.argmax() == 0 and by_error.argmax() == 1
    assert allocate(7, deficit, weakness).sum() == 7
    with pytest.raises(ValueError):
        allocate(10, deficit, weakness, tradeoff=2.0)


def _ordered_domain(rng: np.random.Generator):
    """Tabular splits stored in a structured order: feature 0 drifts along each split (as
    robotics splits are stored episode by episode), so a prefix is not a random sample.
    """
    from benchmark.data import SPLITS, DomainData, Split

    sizes = {"seed": 60, "pool": 60, "val": 35, "test_id": 10, "test_shift": 10,
             "reference": 90}
    splits = {}
    for name in SPLITS:
        y = rng.integers(0, 2, sizes[name])
        x = rng.normal(size=(len(y), 4)) + y[:, None]
        x[:, 0] += np.linspace(0.0, 4.0, len(y))
        splits[name] = Split(x, y, np.zeros_like(y))
    return DomainData("ordered", "tabular", ["a", "b"], ["g"], splits)


def test_evaluate_uses_one_judge_and_random_real_subsamples(monkeypatch) -> None:
    import benchmark.upstream.generators as generators
    from benchmark.config import GeneratorParams
    from benchmark.upstream import patterns
    from benchmark.upstream.generators.evaluate import evaluate

    rng = np.random.default_rng(0)
    data = _ordered_domain(rng)
    z = {s: data[s].x.astype(np.float64) for s in ("seed", "pool", "val", "reference")}
    found = patterns.discover(z["seed"], z["pool"], 2, 0, components=4)
    monkeypatch.setattr(generators, "sample", lambda gen, n, *a, **kw: (
        rng.normal(size=(n, 4)).astype(np.float32), {}))
    calls: list[tuple[int, int]] = []

    def always_one(x_raw: np.ndarray, z_items: np.ndarray) -> np.ndarray:
        calls.append((len(x_raw), len(z_items)))
        return np.ones(len(z_items), np.int64)

    cfg = GeneratorParams(eval_samples=40, seed=0)
    report, samples = evaluate(None, data, z, found, _identity, cfg, judge=always_one)
    target, req_l = report["targeting"], samples["labels"]
    assert calls == [(35, 35), (40, 40)]  # val (chance) and the targeted samples
    assert target["label_acc"] == target["label_chance"] == pytest.approx(np.mean(req_l == 1))
    assert report["annotator/val_acc"] == pytest.approx(np.mean(data["val"].y == 1))
    assert report["n_real"] == 35 and report["tstr"]["n"] == 40
    prefix = measure.frechet(_identity, 4, data["val"].x, data["reference"].x[:35])
    assert report["frechet_real"] < prefix / 3  # a prefix of ordered data inflates the floor
    again, _ = evaluate(None, data, z, found, _identity, cfg, judge=always_one)
    assert again["frechet_real"] == report["frechet_real"]
    assert again["prdc_real"] == report["prdc_real"]
    draws = [measure.frechet(  # the floor: the mean over independent pairs of subsamples
        _identity, 4, data["val"].x[measure.subsample(35, 35, 0, 2 * i + 10)],
        data["reference"].x[measure.subsample(len(data["reference"]), 35, 0, 2 * i + 11)])
        for i in range(5)]
    assert report["frechet_real"] == pytest.approx(np.mean(draws))
    assert report["frechet_real_sd"] == pytest.approx(np.std(draws)) and np.std(draws) > 0
    default, _ = evaluate(None, data, z, found, _identity, cfg)
    assert set(default["targeting"]) >= {"acc", "chance", "label_chance"}
    assert set(default["prdc_real"]) == {"precision", "recall", "density", "coverage"}


def test_a_damaged_generator_folder_names_itself(tmp_path) -> None:
    from benchmark.io import DataFormatError
    from benchmark.upstream.generators.model import load as load_generator

    (tmp_path / "generator.json").write_text('{"shape": [3], "modality": "tabular", '
                                             '"n_classes": 2, "k": 2, "mean": [0, 0, 0], '
                                             '"std": [1, 1, 1]}')
    (tmp_path / "denoiser").mkdir()
    (tmp_path / "denoiser" / "config.json").write_text("garbage")
    with pytest.raises(DataFormatError, match=r"not a readable generator .*; rebuild it with "
                                              r"`dvc repro generator`"):
        load_generator(tmp_path)
