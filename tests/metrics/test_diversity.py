"""Diversity and quality metrics of a constructed dataset, against hand-computed values, an
independent computation in this file and, where installed, the reference packages ``vendi-score``
and ``prdc`` (the ``test`` extra).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmark.construction.acquisition import agreement
from benchmark.evaluation.metrics import diversity
from benchmark.evaluation.metrics.diversity import (
    cluster_entropy,
    committee_consistency,
    composition_gap,
    coverage_density,
    group_composition,
    label_accuracy,
    label_issue_rate,
    prdc,
    vendi,
)
from benchmark.upstream.generators import measure

# --- Vendi -------------------------------------------------------------------------------------


def _entropy_exp(lam: np.ndarray) -> float:
    """exp(-sum l log l) over the positive eigenvalues (0 log 0 = 0)."""
    lam = lam[lam > 1e-15]
    return math.exp(-float((lam * np.log(lam)).sum()))


def _primal_vendi(z: np.ndarray) -> float:
    """The definition, written out: eigenvalues of K / n, K the n x n cosine-similarity kernel."""
    norms = np.sqrt((z * z).sum(axis=1))
    k = (z @ z.T) / np.outer(norms, norms)
    return _entropy_exp(np.linalg.eigvalsh(k / len(z)))


def _dual_vendi(z: np.ndarray) -> float:
    """The d x d form: eigenvalues of Z^T Z / n, Z the unit-length rows."""
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    return _entropy_exp(np.linalg.eigvalsh(zn.T @ zn / len(z)))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("dual", [None, True, False])
@pytest.mark.parametrize(("n", "d"), [(12, 5), (4, 9)])
def test_vendi_of_copies_of_one_item_is_one(n: int, d: int, dual: bool | None) -> None:
    rng = np.random.default_rng(n)
    z = np.outer(rng.uniform(0.2, 5.0, n), rng.normal(size=d))  # one direction, many lengths
    assert vendi(z, dual=dual) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("q", [1.0, 2.0, 0.5, math.inf])
@pytest.mark.parametrize("dual", [None, True, False])
def test_vendi_of_orthogonal_items_is_their_number(dual: bool | None, q: float) -> None:
    rng = np.random.default_rng(1)
    basis, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    z = basis[:6] * rng.uniform(0.1, 3.0, (6, 1))
    assert vendi(z, q, dual=dual) == pytest.approx(6.0, abs=1e-9)
    # the same items, each twice: still 6 distinct directions
    assert vendi(np.concatenate([z, 2 * z]), q, dual=dual) == pytest.approx(6.0, abs=1e-9)


def test_vendi_of_two_items_at_a_known_angle() -> None:
    """Cosine 0.5: K / 2 has eigenvalues 3/4 and 1/4."""
    z = np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2]])
    expected = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    assert vendi(z) == pytest.approx(expected, abs=1e-12)
    assert vendi(z, dual=True) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "d"), [(60, 7), (7, 60), (25, 25)])
def test_vendi_dual_and_primal_forms_agree(n: int, d: int) -> None:
    rng = np.random.default_rng(n * d)
    z = rng.normal(size=(n, d)) * rng.uniform(0.1, 3.0, d) + 0.3  # anisotropic, off-centre
    primal, dual = _primal_vendi(z), _dual_vendi(z)
    assert 1.5 < primal < min(n, d)
    assert dual == pytest.approx(primal, abs=1e-9)
    for form in (None, True, False):
        assert vendi(z, dual=form) == pytest.approx(primal, abs=1e-9), form


@pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")
@pytest.mark.parametrize("q", [1, 2, math.inf])
@pytest.mark.parametrize(("n", "d"), [(40, 6), (6, 40)])
def test_vendi_matches_the_vendi_score_package(n: int, d: int, q: float) -> None:
    vendi_ref = pytest.importorskip("vendi_score.vendi")
    rng = np.random.default_rng(7)
    z = rng.normal(size=(n, d)) + rng.normal(size=d)
    q_ref = "inf" if math.isinf(q) else q
    expected = vendi_ref.score(list(z), _cosine, q=q_ref)
    assert vendi(z, q) == pytest.approx(expected, abs=1e-9)
    assert vendi(z, q) == pytest.approx(vendi_ref.score_dual(z, q=q_ref), abs=1e-9)


def test_vendi_rejects_zero_rows_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="zero row"):
        vendi(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="shape"):
        vendi(np.ones(3))
    with pytest.raises(ValueError, match="q"):
        vendi(np.eye(2), q=-1)


# --- cluster entropy ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [2, 3, 7])
def test_cluster_entropy_uniform_and_single_cluster(k: int) -> None:
    even = cluster_entropy(np.repeat(np.arange(k), 4), k)
    assert even["normalized"] == pytest.approx(1.0, abs=1e-12)
    assert even["effective"] == pytest.approx(k, abs=1e-12)
    assert even["entropy"] == pytest.approx(math.log(k), abs=1e-12)
    one = cluster_entropy(np.full(9, k - 1), k)
    assert one == {"entropy": 0.0, "normalized": 0.0, "effective": 1.0}


def test_cluster_entropy_uneven_by_hand() -> None:
    """Counts 1, 2, 3 of 6: H = ln6/6 + ln3/3 + ln2/2, exp(H) = 6^(1/6) 3^(1/3) 2^(1/2)."""
    labels = np.array([2, 1, 0, 2, 1, 2])
    h = math.log(6) / 6 + math.log(3) / 3 + math.log(2) / 2
    got = cluster_entropy(labels, 3)
    assert got["entropy"] == pytest.approx(h, abs=1e-12)
    assert got["normalized"] == pytest.approx(h / math.log(3), abs=1e-12)
    assert got["effective"] == pytest.approx(6 ** (1 / 6) * 3 ** (1 / 3) * 2**0.5, abs=1e-12)
    # a fourth, empty cluster adds nothing to H but lowers the normalised value
    four = cluster_entropy(labels, 4)
    assert four["entropy"] == pytest.approx(h, abs=1e-12)
    assert four["normalized"] == pytest.approx(h / math.log(4), abs=1e-12)


def test_cluster_entropy_edge_cases() -> None:
    assert cluster_entropy(np.zeros(5, int), 1) == {"entropy": 0.0, "normalized": 1.0,
                                                    "effective": 1.0}
    assert all(math.isnan(v) for v in cluster_entropy(np.array([], int), 3).values())
    with pytest.raises(ValueError):
        cluster_entropy(np.array([0, 3]), 3)
    with pytest.raises(ValueError):
        cluster_entropy(np.array([0, -1]), 3)


# --- PRDC --------------------------------------------------------------------------------------


def test_prdc_and_consistency_are_the_project_functions_re_exported() -> None:
    assert prdc is measure.prdc
    assert diversity.prdc is measure.prdc
    assert committee_consistency is agreement
    with pytest.raises(AttributeError):
        _ = diversity.no_such_metric


@pytest.mark.parametrize("k", [1, 3, 5])
def test_coverage_of_a_set_against_itself_is_one(k: int) -> None:
    z = np.random.default_rng(k).normal(size=(80, 5))
    assert prdc(z, z, k)["coverage"] == 1.0
    assert coverage_density(z, z.copy(), k)["coverage"] == 1.0


def test_coverage_density_against_a_distant_set_is_zero() -> None:
    z = np.random.default_rng(0).normal(size=(50, 3))
    assert coverage_density(z, z + 50.0, 5) == {"coverage": 0.0, "density": 0.0}


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("seed", range(3))
def test_prdc_matches_the_prdc_package(seed: int, k: int) -> None:
    """``prdc.compute_prdc`` takes the radius as the (k+1)-th smallest distance of a row that
    includes the item itself at distance 0 (sklearn zeroes the diagonal when X is Y); ours sets
    the diagonal to inf and takes the k-th smallest: the same value, duplicates included. The
    package computes distances with sklearn's dot-product expansion, ours exactly; the strict
    ``<`` tests could differ only on near-ties (~1e-12), which continuous random data do not
    have. The package returns numpy floats and prints a line; ours returns floats.
    """
    ref = pytest.importorskip("prdc")
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(200, 4))
    fake = rng.normal(0.4, 1.3, size=(150, 4))
    expected = {key: float(v) for key, v in ref.compute_prdc(real, fake, k).items()}
    assert 0.0 < expected["coverage"] < 1.0 and 0.0 < expected["precision"] < 1.0
    assert prdc(real, fake, k) == pytest.approx(expected, abs=1e-12)
    assert coverage_density(real, fake, k) == pytest.approx(
        {"coverage": expected["coverage"], "density": expected["density"]}, abs=1e-12)


# --- committee consistency, label accuracy, label issues ---------------------------------------


def test_committee_consistency_by_hand() -> None:
    """Votes m0 = 0110, m1 = 0100, m2 = 1100: pairs agree on 3/4, 2/4, 3/4 -> 2/3."""
    votes = np.array([[0, 1, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0]])
    proba = np.where(np.eye(2)[votes] == 1, 0.8, 0.2)  # (members, items, classes)
    assert committee_consistency(proba) == pytest.approx(2 / 3, abs=1e-12)
    assert committee_consistency(proba[:1]) == 1.0
    assert committee_consistency(proba[[0, 0]]) == 1.0
    assert committee_consistency(proba[:2]) == pytest.approx(3 / 4, abs=1e-12)
    with pytest.raises(ValueError, match="members, items, classes"):
        committee_consistency(proba[0])


def test_label_accuracy_counts_only_known_items() -> None:
    y_d = np.array([0, 1, 2, 1, 0])
    y_true = np.array([0, 2, 2, 9, 1])  # items 3 and 4: truth unknown (placeholders disagree)
    known = np.array([True, True, True, False, False])
    assert label_accuracy(y_d, y_true, known) == pytest.approx(2 / 3, abs=1e-12)
    assert label_accuracy(y_d, y_true, np.ones(5, bool)) == pytest.approx(2 / 5, abs=1e-12)
    assert math.isnan(label_accuracy(y_d, y_true, np.zeros(5, bool)))
    with pytest.raises(ValueError):
        label_accuracy(y_d, y_true[:4], known)


def _separable(n: int = 300, n_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian blobs, one per class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    z = rng.normal(0, 0.5, (n, 4))
    z[np.arange(n), y] += 6.0
    return z, y


def _flip(y: np.ndarray, share: float, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``y`` with ``share`` of its items moved to another class, and the flipped indices."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), int(share * len(y)), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, n_classes, len(idx))) % n_classes
    return noisy, idx


def test_label_issue_rate_rises_with_flipped_labels() -> None:
    z, y = _separable()
    noisy, _ = _flip(y, 0.2, 3, seed=1)
    clean_rate, noisy_rate = label_issue_rate(z, y), label_issue_rate(z, noisy)
    assert clean_rate <= 0.03
    assert noisy_rate >= clean_rate + 0.12
    assert 0.12 <= noisy_rate <= 0.3


def test_label_issue_rate_with_given_probabilities() -> None:
    z, y = _separable()
    pred_probs = np.where(np.eye(3)[y] == 1, 0.9, 0.05)  # a confident, correct model
    noisy, idx = _flip(y, 0.2, 3, seed=2)
    assert label_issue_rate(z, y, pred_probs) == 0.0
    assert label_issue_rate(z, noisy, pred_probs) == pytest.approx(len(idx) / len(y), abs=0.02)


def test_label_issue_rate_edge_cases() -> None:
    z, y = _separable(n=30)
    assert math.isnan(label_issue_rate(z, np.zeros(30, int)))
    # labels need not be 0..K-1 when the probabilities are estimated here
    assert label_issue_rate(z, y * 10 + 5) == label_issue_rate(z, y)
    with pytest.raises(ValueError, match="labels"):
        label_issue_rate(z, y[:-1])


# --- composition -------------------------------------------------------------------------------


def test_group_composition_by_hand() -> None:
    group = np.array([0, 0, 1, -1, 2, 0, 1, -1])
    got = group_composition(group, 4)
    assert got == pytest.approx({"unknown": 2 / 8, "0": 3 / 8, "1": 2 / 8, "2": 1 / 8, "3": 0.0},
                                abs=1e-12)
    assert sum(got.values()) == pytest.approx(1.0)
    assert all(math.isnan(v) for v in group_composition(np.array([], int), 2).values())
    with pytest.raises(ValueError):
        group_composition(np.array([0, 4]), 4)
    with pytest.raises(ValueError):
        group_composition(np.array([-2]), 4)


def test_composition_gap_by_hand() -> None:
    """Known shares D = (2/3, 1/3, 0), pool = (1/4, 1/2, 1/4): TV = (5/12 + 2/12 + 3/12) / 2."""
    d = np.array([0, 0, 1, -1])
    pool = np.array([0, 1, 1, 2, -1, -1])
    assert composition_gap(d, pool, 3) == pytest.approx(5 / 12, abs=1e-12)
    assert composition_gap(pool, d, 3) == pytest.approx(5 / 12, abs=1e-12)
    # unknown-group items do not move the gap; identical and disjoint make-ups give 0 and 1
    assert composition_gap(np.concatenate([d, [-1] * 5]), pool, 3) == pytest.approx(5 / 12)
    assert composition_gap(pool, pool[::-1], 3) == 0.0
    assert composition_gap(np.array([0, 0]), np.array([1, 2, -1]), 3) == 1.0
    assert math.isnan(composition_gap(np.array([-1, -1]), pool, 3))
