"""Carving a finite real data set into the harness's splits."""

import numpy as np
import pytest

from benchmark.data import DataFormatError
from domains.realdata import carve_training, hold_out, rare_weights, scaled_counts

WANTED = {"seed": 20, "pool": 200, "val": 30, "test_id": 60, "reference": 60}


def test_counts_are_kept_when_data_suffices_and_scaled_together_when_not() -> None:
    names = tuple(WANTED)
    assert scaled_counts(1000, WANTED, names, "f") == WANTED
    small = scaled_counts(185, WANTED, names, "f")
    assert sum(small.values()) == 185
    assert small == {"seed": 10, "pool": 100, "val": 15, "test_id": 30, "reference": 30}
    with pytest.raises(DataFormatError, match="f: only 3 usable items, too few"):
        scaled_counts(3, WANTED, names, "f")


def test_splits_are_disjoint_and_deterministic() -> None:
    def carve(seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        held, train, counts = hold_out(500, WANTED, rng, "f")
        return {**held, **carve_training(train, counts, np.ones(len(train)), rng)}

    parts = carve(0)
    every = np.concatenate(list(parts.values()))
    assert len(np.unique(every)) == len(every) == sum(WANTED.values())
    assert {k: len(v) for k, v in parts.items()} == WANTED
    again, other = carve(0), carve(1)
    for name in WANTED:
        np.testing.assert_array_equal(parts[name], again[name])
    assert not np.array_equal(parts["pool"], other["pool"])


def test_seed_under_samples_the_rarest_pattern() -> None:
    pattern = np.repeat([0, 1, 2], [600, 300, 100])
    weights, rarest = rare_weights(pattern, keep=0.1)
    assert rarest == 2
    rng = np.random.default_rng(0)
    counts = {"seed": 200, "pool": 500, "reference": 100}
    seed = carve_training(np.arange(1000), counts, weights, rng)["seed"]
    share = (pattern[seed] == 2).mean()
    assert share < 0.03  # about a tenth of its natural 10%
