"""Contract tests for every registered domain source: a new source is tested once registered."""

import numpy as np
import pytest

from benchmark import modalities
from benchmark.data import SPLITS
from benchmark.domain import DOMAINS
from domains.realdata import SourceDataMissing

SIZES = {"seed": 24, "pool": 40, "val": 20, "test_id": 20, "test_shift": 20, "reference": 20}
RANK = {"image": 3, "sequence": 2, "tabular": 1}


@pytest.fixture(scope="module", params=DOMAINS.names())
def built(request):
    source = DOMAINS.get(request.param)()
    try:
        return request.param, source.build(SIZES, seed=0)
    except SourceDataMissing as err:  # a real source whose files are not in raw/
        pytest.skip(str(err))


def test_yields_six_well_formed_splits(built) -> None:
    name, data = built
    assert data.modality in modalities.names() and set(data.splits) == set(SPLITS)
    for split_name, split in data.splits.items():
        assert 0 < len(split) <= SIZES[split_name], split_name
        rank = RANK[modalities.modality(data.modality).kind]  # a modality of its own: its kind's
        assert split.x.dtype == np.float32 and split.x.ndim == 1 + rank
        assert np.isfinite(split.x).all()
        assert split.y.min() >= 0 and split.y.max() < data.n_classes
        assert split.group.min() >= 0 and split.group.max() < len(data.group_names)
        for key, column in split.meta.items():
            assert column.dtype != object and len(column) == len(split), key


def test_records_ground_truth_patterns(built) -> None:
    _, data = built
    if not data.pattern_names:
        pytest.skip("source without ground-truth patterns (real data)")
    for split in data.splits.values():
        pattern = split.meta["pattern"]
        assert pattern.min() >= 0 and pattern.max() < len(data.pattern_names)


def test_is_deterministic_per_seed(built) -> None:
    name, data = built
    again = DOMAINS.get(name)().build(SIZES, seed=0)
    other = DOMAINS.get(name)().build(SIZES, seed=1)
    for split in SPLITS:
        np.testing.assert_array_equal(again[split].x, data[split].x)
        np.testing.assert_array_equal(again[split].y, data[split].y)
    assert not np.array_equal(other["pool"].x, data["pool"].x)


def test_has_a_docstring_data_card(built) -> None:
    name, _ = built
    doc = DOMAINS.get(name).__doc__ or ""
    assert len(doc.split()) > 30, f"{name}: document classes, groups, shift and rare patterns"
