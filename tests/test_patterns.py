import dataclasses

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import adjusted_mutual_info_score

from benchmark.upstream import patterns as pt


def _blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in 8-D and their true labels."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), n // 3)
    centres = rng.normal(0, 10, (3, 8))
    return centres[truth] + rng.normal(0, 0.5, (len(truth), 8)), truth


@pytest.mark.parametrize("algorithm", pt.ALGORITHMS)
def test_discover_is_deterministic_for_a_fixed_seed(algorithm) -> None:
    z, _ = _blobs(90)
    runs = [pt.discover(z[:30], z[30:], 5, seed=3, algorithm=algorithm, components=4)
            for _ in range(2)]
    assert np.array_equal(runs[0].assign(z), runs[1].assign(z))


@pytest.mark.parametrize("algorithm", pt.ALGORITHMS)
def test_discover_recovers_separated_blobs_and_freezes_clusters(algorithm) -> None:
    z, truth = _blobs(90)
    found = pt.discover(z[::3], z, 3, seed=0, algorithm=algorithm)
    labels = found.assign(z)
    assert adjusted_mutual_info_score(truth, labels) > 0.99
    moved = z + 0.01  # later items land in the same, frozen clusters
    assert np.array_equal(found.assign(moved), labels)
    assert found.project(z).shape == (len(z), 2)


def test_discover_with_reads_every_patterns_param(smoke_params) -> None:
    """The params' k, components, algorithm and seed all reach the clustering."""
    z, _ = _blobs(90)
    cfg = dataclasses.replace(smoke_params.patterns, k=4, components=3, algorithm="gmm", seed=2)
    found = pt.discover_with(cfg, z[:30], z[30:])
    assert found.k == 4 and found.model[1].n_components == 3
    assert found.model[-1].__class__.__name__ == "GaussianMixture"
    assert found.model[-1].random_state == 2
    refit = pt.discover_with(cfg, z[:30], z[30:], seed=5, algorithm="kmeans")
    assert refit.model[-1].random_state == 5 and refit.model[-1].n_init == cfg.n_init


def test_unknown_algorithm_names_the_valid_ones() -> None:
    z, _ = _blobs()
    with pytest.raises(ValueError, match="kmeans"):
        pt.discover(z, z, 3, seed=0, algorithm="dbscan")


def test_deficit_is_reference_share_minus_dataset_share() -> None:
    in_d = np.array([0, 0, 0, 1])  # shares 3/4, 1/4, 0
    in_ref = np.array([0, 1, 1, 2])  # shares 1/4, 1/2, 1/4
    np.testing.assert_allclose(pt.deficit(in_d, in_ref, 4), [-0.5, 0.25, 0.25, 0.0])
    np.testing.assert_allclose(pt.shares(np.array([], dtype=np.int64), 2), [0.0, 0.0])


def test_weakness_on_a_hand_made_committee() -> None:
    # two members, four val items in clusters 0, 0, 1, 1 (cluster 2 is empty)
    proba = np.array([
        [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [1.0, 0.0]],
        [[0.7, 0.3], [0.4, 0.6], [0.5, 0.5], [0.0, 1.0]],
    ])
    y_val = np.array([0, 0, 1, 0])
    weak = pt.weakness(np.array([0, 0, 1, 1]), y_val, proba, 3)
    # mean prediction: [.8,.2] right, [.3,.7] wrong, [.5,.5] -> class 0, wrong, [.5,.5] right
    np.testing.assert_array_equal(weak.count, [2, 2, 0])
    np.testing.assert_allclose(weak.error[:2], [0.5, 0.5])
    h = lambda p: -(p * np.log(p)).sum()  # noqa: E731
    np.testing.assert_allclose(weak.entropy[:2], [
        (h(np.array([0.8, 0.2])) + h(np.array([0.3, 0.7]))) / 2, np.log(2)])
    assert np.isnan(weak.error[2]) and np.isnan(weak.entropy[2])


def test_committee_members_see_every_class_and_agree_on_easy_items() -> None:
    z, truth = _blobs(60)
    proba = pt.committee_proba(z, truth, z, 3, members=4, seed=0)
    assert proba.shape == (4, 60, 3)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0)
    assert (proba.mean(axis=0).argmax(axis=1) == truth).all()
    np.testing.assert_array_equal(proba, pt.committee_proba(z, truth, z, 3, members=4, seed=0))


def test_linear_probe_separates_blobs() -> None:
    z, truth = _blobs(90)
    assert pt.linear_probe(z[::2], truth[::2], z[1::2], truth[1::2]) == 1.0


def test_rare_patterns_are_squeezed_in_the_dataset() -> None:
    in_d = np.array([0] * 8 + [1] * 2 + [2] * 0)
    in_ref = np.array([0] * 4 + [1] * 3 + [2] * 3)
    # shares D: .8, .2, 0 ; reference: .4, .3, .3 ; pattern 3 never occurs
    np.testing.assert_array_equal(pt.rare_patterns(in_d, in_ref, 4, ratio=0.5), [2])
    np.testing.assert_array_equal(pt.rare_patterns(in_d, in_ref, 4, ratio=0.7), [1, 2])


def test_discovery_scores_on_a_constructed_case() -> None:
    pattern = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])  # pattern 2 is rare
    clusters = np.array([1, 1, 1, 1, 0, 0, 0, 0, 2, 2])  # a relabelling of the patterns
    gaps = np.array([0.1, -0.3, 0.2])  # cluster 2 has the highest deficit
    scores = pt.discovery_scores(clusters, pattern, np.array([2]), gaps, top=1)
    assert scores["ami"] == pytest.approx(1.0)
    assert scores["rare_recall"] == 1.0 and scores["top_coverage"] == pytest.approx(0.2)
    assert scores["rare_lift"] == pytest.approx(5.0)
    mixed = pt.discovery_scores(np.array([0, 1] * 5), pattern, np.array([2]),
                                np.array([0.3, -0.3, 0.0]), top=1)
    assert mixed["ami"] == pytest.approx(adjusted_mutual_info_score(pattern, [0, 1] * 5))
    assert mixed["rare_recall"] == 0.5
    assert np.isnan(pt.discovery_scores(clusters, pattern, np.array([], dtype=int), gaps,
                                        1)["rare_recall"])


def _with_extra_blob(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D from two blobs; the pool from the same two plus a third, absent from D (pattern 2)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 0.0, 0.0], [0.0, 6.0, 6.0, 0.0]])
    pattern_d = np.repeat([0, 1], 40)
    pattern_ref = np.repeat([0, 1, 2], [80, 80, 20])
    noise = lambda n: rng.normal(0, 0.5, (n, 4))  # noqa: E731
    return (centres[pattern_d] + noise(len(pattern_d)),
            centres[pattern_ref] + noise(len(pattern_ref)), pattern_ref)


def test_density_ratio_ranks_the_blob_missing_from_d_first() -> None:
    z_d, z_ref, pattern = _with_extra_blob()
    score = pt.density_ratio(z_d, z_ref, folds=5, seed=0)
    assert score.shape == (len(z_ref),) and np.all((score >= 0) & (score <= 1))
    assert score[pattern == 2].min() > score[pattern != 2].max()
    # the top 20 of 180 are the 20 rare items: lift = 1 / (20 / 180) = 9
    assert pt.top_lift(score, pattern, np.array([2]), 20 / 180) == pytest.approx(9.0)
    np.testing.assert_array_equal(score, pt.density_ratio(z_d, z_ref, folds=5, seed=0))


class _Memoriser(ClassifierMixin, BaseEstimator):
    """p(ref | x) = 1 for exactly the rows it was fitted on, 0 for any other: a model that
    only memorises. Records how many rows each fit saw.
    """

    fitted_sizes: list[int] = []

    def fit(self, z: np.ndarray, side: np.ndarray) -> "_Memoriser":
        self.classes_ = np.unique(side)
        self.seen_ = {row.tobytes() for row in z}
        _Memoriser.fitted_sizes.append(len(z))
        return self

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        seen = np.array([row.tobytes() in self.seen_ for row in z], dtype=np.float64)
        return np.column_stack([1.0 - seen, seen])


def test_density_ratio_never_scores_an_item_with_a_model_that_saw_it() -> None:
    z_d, z_ref, _ = _with_extra_blob()
    _Memoriser.fitted_sizes.clear()
    score = pt.density_ratio(z_d, z_ref, folds=4, seed=1, estimator=_Memoriser())
    np.testing.assert_array_equal(score, np.zeros(len(z_ref)))  # in-sample would give all 1
    assert len(_Memoriser.fitted_sizes) == 4
    _Memoriser.fitted_sizes.clear()  # cap: 3/4 of D's 80 items + 50 of the pool's per fit
    capped = pt.density_ratio(z_d, z_ref, folds=4, seed=1, cap=50, estimator=_Memoriser())
    np.testing.assert_array_equal(capped, np.zeros(len(z_ref)))
    assert _Memoriser.fitted_sizes == [60 + 50] * 4


def test_top_lift_on_a_constructed_case() -> None:
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    pattern = np.array([2, 0, 2, 0, 0, 0, 0, 0, 0, 2])  # rare share 3/10
    assert pt.top_lift(score, pattern, np.array([2]), 0.2) == pytest.approx(0.5 / 0.3)
    assert pt.top_lift(score, pattern, np.array([2]), 0.3) == pytest.approx((2 / 3) / 0.3)
    assert pt.top_lift(score, pattern, np.array([2]), 1.0) == pytest.approx(1.0)
    assert np.isnan(pt.top_lift(score, pattern, np.array([5]), 0.2))


def test_pattern_ceiling_separable_vs_random_patterns() -> None:
    z, truth = _blobs(300)
    train, held = np.arange(0, 300, 2), np.arange(1, 300, 2)
    clear = pt.pattern_ceiling(z[train], truth[train], z[held], truth[held], trees=20, jobs=1)
    assert clear["acc"] == 1.0
    noise = np.random.default_rng(0).choice(3, 300, p=[0.6, 0.2, 0.2])
    blind = pt.pattern_ceiling(z[train], noise[train], z[held], noise[held], trees=20, jobs=1)
    assert blind["majority"] == pytest.approx((noise[held] == 0).mean())
    assert blind["acc"] < blind["majority"] + 0.1
    one = pt.pattern_ceiling(z[train], truth[train], z[held], truth[held], cap=1, trees=20,
                             jobs=1)  # one training item: the forest can only answer its class
    assert one["acc"] == one["majority"] == pytest.approx(1 / 3)
