"""The Lorenz-96 climate source: determinism, data format, a real warming shift, rare patterns."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import SPLITS, DomainData
from benchmark.domain import DOMAINS
from domains.climate import EXTREME, Lorenz96, lorenz96_tendency

SIZES = {"seed": 60, "pool": 300, "val": 40, "test_id": 200, "test_shift": 200, "reference": 40}
WEATHER = 3  # the centre sector and one halo neighbour each side; two location channels follow


@pytest.fixture(scope="module")
def data() -> DomainData:
    return Lorenz96().build(SIZES, seed=0)


def _same(a: DomainData, b: DomainData, split: str) -> bool:
    sa, sb = a[split], b[split]
    return (np.array_equal(sa.x, sb.x) and np.array_equal(sa.y, sb.y)
            and all(np.array_equal(sa.meta[k], sb.meta[k]) for k in sa.meta))


def test_registered() -> None:
    assert DOMAINS.get("lorenz96") is Lorenz96


def test_tendency_matches_the_lorenz96_equation() -> None:
    x = np.random.default_rng(0).normal(size=(3, 12))
    expected = (np.roll(x, -1, -1) - np.roll(x, 2, -1)) * np.roll(x, 1, -1) - x + 8.0
    np.testing.assert_allclose(lorenz96_tendency(x, 8.0), expected)


def test_same_seed_same_data_other_seed_other_data(data: DomainData) -> None:
    again = Lorenz96().build(SIZES, seed=0)
    other = Lorenz96().build(SIZES, seed=1)
    assert all(_same(data, again, s) for s in SPLITS)
    assert not any(_same(data, other, s) for s in SPLITS)


def test_split_sizes_do_not_leak_into_other_splits(data: DomainData) -> None:
    bigger = Lorenz96().build({**SIZES, "pool": 500}, seed=0)
    for name in ("test_id", "test_shift"):  # member ids are numbered across splits, so skip them
        assert np.array_equal(data[name].x, bigger[name].x)
        assert np.array_equal(data[name].y, bigger[name].y)


def test_shapes_dtypes_and_vocabularies(data: DomainData) -> None:
    assert data.modality == "sequence" and data.input_shape == (5, 64)
    assert data.class_names == ["calm", "normal", "extreme"] and len(data.group_names) == 4
    assert len(data.pattern_names) == 12
    for name in SPLITS:
        split = data[name]
        assert len(split) == SIZES[name] and split.x.dtype == np.float32
        assert set(np.unique(split.y)) <= {0, 1, 2} and set(np.unique(split.group)) <= set(range(4))
        assert {"pattern", "region", "sector", "forcing", "member", "t0"} <= set(split.meta)
        assert all(v.dtype.kind in "iuf" and len(v) == len(split) for v in split.meta.values())
        np.testing.assert_array_equal(split.meta["pattern"], 3 * split.group + split.y)


def test_training_climatology_scales_inputs(data: DomainData) -> None:
    pool = data["pool"].x[:, :WEATHER]
    assert abs(pool.mean()) < 0.15 and 0.85 < pool.std() < 1.15
    assert data["test_shift"].x[:, :WEATHER].std() > 1.05 * pool.std()  # not re-normalised


def test_location_channels_identify_the_region_exactly(data: DomainData) -> None:
    """Constant sin/cos of the centre sector's angle: the region a pattern is defined by is seen."""
    n_sectors = Lorenz96().n_sectors
    for name in SPLITS:
        split = data[name]
        location = split.x[:, WEATHER:]
        assert location.shape[1] == 2
        np.testing.assert_array_equal(location, np.repeat(location[:, :, :1], 64, axis=2))
        angle = np.arctan2(location[:, 0, 0], location[:, 1, 0]) % (2 * np.pi)
        sector = np.rint(angle * n_sectors / (2 * np.pi)).astype(np.int64) % n_sectors
        np.testing.assert_array_equal(sector, split.meta["sector"])
        np.testing.assert_array_equal(Lorenz96().region_of(sector), split.group)


def test_splits_use_disjoint_ensemble_members(data: DomainData) -> None:
    members = [set(data[s].meta["member"].tolist()) for s in SPLITS]
    assert sum(map(len, members)) == len(set().union(*members))


def test_shift_is_warmer_with_more_extremes(data: DomainData) -> None:
    iid, shift = data["test_id"], data["test_shift"]
    warming = data.info["shift_forcing"] - data.info["forcing"]
    for region in range(4):
        np.testing.assert_allclose(shift.meta["forcing"][shift.group == region],
                                   iid.meta["forcing"][iid.group == region][0] + warming, rtol=1e-6)
    assert warming > 0
    assert np.mean(shift.y == EXTREME) > np.mean(iid.y == EXTREME) + 0.1


def test_rare_patterns_are_rarer_in_seed_than_in_pool(data: DomainData) -> None:
    rare = data.info["rare_patterns"]
    share = {s: np.isin(data[s].meta["pattern"], rare).mean() for s in ("seed", "pool")}
    assert share["pool"] > 0.05 and share["seed"] < share["pool"] / 3


def test_missing_split_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="lacks splits"):
        Lorenz96().build({"seed": 10}, seed=0)
