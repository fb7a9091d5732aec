"""Model-side mitigation: fairlearn's ThresholdOptimizer on a trained network's scores."""

import numpy as np
from fairlearn.metrics import equalized_odds_difference

from benchmark.data import Split
from benchmark.evaluation.mitigation import threshold_optimizer, unavailable


def _biased(n: int, seed: int) -> tuple[Split, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 3)).astype(np.float32)
    group = rng.integers(0, 2, n)
    y = ((x[:, 0, 0] + 0.8 * group + rng.normal(scale=0.5, size=n)) > 0.4).astype(np.int64)
    return Split(x, y, group), group


def _proba(rows: np.ndarray) -> np.ndarray:  # a model blind to the group's offset, float32
    s = 1 / (1 + np.exp(-2 * rows[:, 0, 0]))
    return np.stack([1 - s, s], 1).astype(np.float32)


def test_thresholds_fitted_on_val_reduce_the_odds_gap_on_test() -> None:
    val, _ = _biased(600, 0)
    test, group = _biased(2000, 1)
    predict = threshold_optimizer(_proba, val, seed=0)
    post, plain = predict(test.x, group), _proba(test.x).argmax(1)
    eod_post = equalized_odds_difference(test.y, post, sensitive_features=group)
    eod_plain = equalized_odds_difference(test.y, plain, sensitive_features=group)
    assert eod_post < 0.7 * eod_plain and eod_plain > 0.1
    assert post.dtype == np.int64 and set(np.unique(post)) <= {0, 1}
    assert np.array_equal(post, predict(test.x, group))  # seeded: the same answers twice


def test_binary_labels_with_both_in_every_group_only() -> None:
    val, _ = _biased(200, 0)
    assert unavailable(2, val) is None and unavailable(3, val) == "unsupported"
    one_sided = Split(val.x, np.where(val.group == 1, 1, val.y), val.group)
    assert unavailable(2, one_sided) == "degenerate"
