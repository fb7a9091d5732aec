"""The cell-image simulator: determinism, split composition and the image contract."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import SPLITS
from benchmark.domain import DOMAINS
from domains.biomedical import CLASS_NAMES, RARE_IN_SEED, CellImages

SIZES = {"seed": 300, "pool": 600, "val": 60, "test_id": 90, "test_shift": 90, "reference": 60}


@pytest.fixture(scope="module")
def data():
    return CellImages().build(SIZES, seed=3)


def test_registered_under_cells() -> None:
    assert DOMAINS.get("cells") is CellImages


def test_same_seed_same_arrays_other_seed_differs(data) -> None:
    again = CellImages().build(SIZES, seed=3)
    other = CellImages().build(SIZES, seed=4)
    for name in SPLITS:
        np.testing.assert_array_equal(data[name].x, again[name].x)
        np.testing.assert_array_equal(data[name].y, again[name].y)
        for key, column in data[name].meta.items():
            np.testing.assert_array_equal(column, again[name].meta[key])
        assert not np.array_equal(data[name].x, other[name].x)


def test_resizing_one_split_leaves_the_others(data) -> None:
    bigger = CellImages().build({**SIZES, "pool": 700}, seed=3)
    np.testing.assert_array_equal(data["val"].x, bigger["val"].x)
    np.testing.assert_array_equal(data["test_shift"].x, bigger["test_shift"].x)


def test_shift_site_only_in_test_shift(data) -> None:
    shift = data.info["sites"].index(next(s for s in data.info["sites"] if s["role"] == "shift"))
    assert set(np.unique(data["test_shift"].meta["site"])) == {shift}
    for name in SPLITS:
        if name != "test_shift":
            assert shift not in data[name].meta["site"]
            assert len(np.unique(data[name].meta["site"])) == 3


def test_rare_patterns_are_rare_in_seed_only(data) -> None:
    rare = [data.pattern_names.index(f"{c}@{s}") for c, s in RARE_IN_SEED]
    share = {n: np.isin(data[n].meta["pattern"], rare).mean() / len(rare) for n in SPLITS}
    assert share["seed"] <= 0.025
    for name in ("pool", "test_id", "reference"):
        assert share[name] > 0.08


def test_meta_records_ground_truth(data) -> None:
    split = data["pool"]
    n_classes = len(CLASS_NAMES)
    np.testing.assert_array_equal(split.meta["pattern"] % n_classes, split.y)
    np.testing.assert_array_equal(split.meta["pattern"] // n_classes, split.meta["site"])
    np.testing.assert_array_equal(split.meta["sex"], split.group)
    assert all(col.dtype.kind in "iuf" for col in split.meta.values())
    assert set(np.unique(split.group)) == {0, 1}
    assert set(np.unique(split.y)) == set(range(n_classes))


@pytest.mark.parametrize("size", [12, 16, 28])
def test_images_are_float32_chw_in_unit_range(size: int) -> None:
    data = CellImages(image_size=size).build({**dict.fromkeys(SPLITS, 8), "seed": 20}, seed=0)
    for name in SPLITS:
        x = data[name].x
        assert x.shape == (len(data[name]), 3, size, size)
        assert x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0
    assert data.input_shape == (3, size, size)


def test_too_small_images_are_refused() -> None:
    with pytest.raises(ValueError, match="image_size"):
        CellImages(image_size=8).build(SIZES, seed=0)


def test_missing_split_size_is_refused() -> None:
    with pytest.raises(ValueError, match="reference"):
        CellImages().build({k: v for k, v in SIZES.items() if k != "reference"}, seed=0)


def test_site_weights_choose_the_training_sites() -> None:
    only = CellImages(site_weights=[0, 1, 1]).build(SIZES, seed=3)
    for name in ("seed", "pool", "val", "reference"):
        assert set(np.unique(only[name].meta["site"])) == {1, 2}
    assert set(np.unique(only["test_shift"].meta["site"])) == {3}  # the shift site stays


@pytest.mark.parametrize("weights", [[1, 0], [1, -1, 1], [0, 0, 0]])
def test_bad_site_weights_are_an_option_error(weights) -> None:
    from benchmark.domain import OptionError

    with pytest.raises(OptionError, match="site_weights"):
        CellImages(site_weights=weights).build(SIZES, seed=3)
