"""Every registered acquisition function on hand-made committee probabilities."""

import numpy as np
import pytest

from benchmark.construction.acquisition import ACQUISITIONS, agreement

# three members, four items, two classes
PROBA = np.array([
    [[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.99, 0.01]],
    [[0.1, 0.9], [0.5, 0.5], [0.6, 0.4], [0.98, 0.02]],
    [[0.5, 0.5], [0.5, 0.5], [0.7, 0.3], [0.97, 0.03]],
])
Z = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [0.0, 0.2]])


def _h(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(p)).sum(-1)


def _order(name: str, weight=None, n: int = 4) -> np.ndarray:
    rule = ACQUISITIONS.get(name)()
    return rule.order(PROBA, Z, np.zeros((1, 2)), n, np.random.default_rng(0), weight=weight)


@pytest.mark.parametrize("name", ACQUISITIONS.names())
def test_every_rule_returns_a_permutation(name) -> None:
    order = _order(name)
    assert sorted(order.tolist()) == [0, 1, 2, 3]


def test_bald_equals_the_hand_computed_mutual_information() -> None:
    mean = PROBA.mean(0)
    expected = _h(mean) - _h(PROBA).mean(0)
    # item 0: members disagree (0.9 / 0.1 / 0.5) -> the largest mutual information
    np.testing.assert_allclose(ACQUISITIONS.get("bald")().scores(PROBA), expected, atol=1e-6)
    assert _order("bald")[0] == 0


def test_uncertainty_rules_rank_the_mean_prediction() -> None:
    mean = PROBA.mean(0)  # item 1 is 0.5/0.5 for all: most uncertain for every rule
    np.testing.assert_allclose(ACQUISITIONS.get("entropy")().scores(PROBA), _h(mean), atol=1e-9)
    np.testing.assert_allclose(ACQUISITIONS.get("least_confident")().scores(PROBA),
                               1 - mean.max(1), atol=1e-9)
    margin = ACQUISITIONS.get("margin")().scores(PROBA)
    np.testing.assert_allclose(margin, 1 - np.abs(mean[:, 0] - mean[:, 1]), atol=1e-9)
    for name in ("entropy", "margin", "least_confident"):
        order = _order(name).tolist()
        assert order[-1] == 3  # the confident item comes last
        assert set(order[:2]) == {0, 1}  # the two 0.5 / 0.5 mean predictions first


def test_weight_reorders_score_rules() -> None:
    assert _order("entropy", weight=np.array([0.0, 0.0, 0.0, 1.0]))[0] == 3


def test_kcenter_picks_the_farthest_item_first() -> None:
    order = _order("kcenter", n=2)
    assert order[0] == 2  # (5, 5) is farthest from the labelled point (0, 0)


def test_random_is_seeded() -> None:
    assert (_order("random") == _order("random")).all()


def test_agreement_is_the_mean_pairwise_vote_match() -> None:
    # votes: m0 = [0,0,0,0]; m1 = [1,0,0,0]; m2 = [0 (tie->0),0,0,0]
    assert agreement(PROBA) == pytest.approx((3 / 4 + 1 + 3 / 4) / 3)
    assert agreement(PROBA[:1]) == 1.0
