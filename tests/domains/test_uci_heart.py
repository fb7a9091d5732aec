"""The UCI Heart Disease source on tiny files in the real format, and on the real files."""

import numpy as np
import pytest

from benchmark.data import DataFormatError
from domains.realdata import SourceDataMissing
from domains.uci_heart import SITES, UCIHeart, load_heart
from tests.domains.tiny import BIG, check_splits, real_path, write_heart

SIZES = {"seed": 10, "pool": 40, "val": 10, "test_id": 20, "test_shift": 20, "reference": 10}


@pytest.fixture
def folder(tmp_path):
    return write_heart(tmp_path / "heart")


def test_holds_out_one_hospital(folder) -> None:
    data = UCIHeart(path=str(folder), shift_site="va").build(SIZES, seed=0)
    check_splits(data, SIZES)
    va = SITES.index("va")
    assert (data["test_shift"].meta["site"] == va).all()
    for name in ("seed", "pool", "val", "test_id", "reference"):
        assert (data[name].meta["site"] != va).all(), name


def test_label_group_and_missing_values(folder) -> None:
    data = UCIHeart(path=str(folder), shift_site="cleveland").build(BIG, seed=0)
    table = load_heart(folder)
    cols = data.info["features"]
    for split in data.splits.values():
        rows = table.set_index(["site", "row"]).loc[list(zip(split.meta["site"],
                                                             split.meta["row"], strict=True))]
        np.testing.assert_array_equal(split.y, rows["target"].to_numpy() > 0)
        np.testing.assert_array_equal(split.group, rows["sex"].to_numpy())
        chol_missing = split.x[:, cols.index("chol_missing")]
        np.testing.assert_array_equal(chol_missing == 1, rows["chol"].isna().to_numpy())
    swiss = np.concatenate([s.x[s.meta["site"] == SITES.index("switzerland")]
                            for s in data.splits.values()])
    assert len(swiss) == 30 and (swiss[:, cols.index("chol_missing")] == 1).all()
    assert {"ca_missing", "thal_missing", "slope_missing"} <= set(cols)
    train = np.concatenate([data[s].x for s in ("seed", "pool", "reference")])
    np.testing.assert_allclose(train[:, cols.index("age")].mean(), 0.0, atol=1e-5)


def test_header_row_is_optional(tmp_path) -> None:
    with_header = UCIHeart(path=str(write_heart(tmp_path / "a", header=True))).build(SIZES, 0)
    without = UCIHeart(path=str(write_heart(tmp_path / "b", header=False))).build(SIZES, 0)
    for name, split in with_header.splits.items():
        np.testing.assert_array_equal(split.x, without[name].x)


def test_missing_site_file_says_where_and_how(folder) -> None:
    (folder / "processed.va.data").unlink()
    with pytest.raises(SourceDataMissing, match=r"processed\.va\.data: UCI Heart Disease file "
                                                 r"not found.*archive\.ics\.uci\.edu"):
        UCIHeart(path=str(folder)).build(SIZES, seed=0)


def test_bad_values_name_the_file(folder) -> None:
    path = folder / "processed.hungarian.data"
    path.write_text(path.read_text().replace("\n", "\nabc,", 1))
    with pytest.raises(DataFormatError, match=r"processed\.hungarian\.data: expected 14 numeric"):
        UCIHeart(path=str(folder)).build(SIZES, seed=0)


def test_unknown_shift_site_is_refused(folder) -> None:
    with pytest.raises(ValueError, match="option shift_site: got 'mayo'"):
        UCIHeart(path=str(folder), shift_site="mayo").build(SIZES, seed=0)


def test_reads_the_real_files() -> None:
    folder = real_path("uci_heart_disease")
    table = load_heart(folder)
    assert np.bincount(table["site"]).tolist() == [303, 294, 123, 200]
    assert table["chol"].isna().groupby(table["site"]).sum().tolist()[2] == 123
    assert not (table["chol"] == 0).any()
    data = UCIHeart(path=str(folder), shift_site="cleveland").build(BIG, seed=0)
    check_splits(data, BIG)
    assert len(data["test_shift"]) == 303
    assert sum(len(data[s]) for s in ("seed", "pool", "val", "test_id", "reference")) == 617
    assert data.info["rare_pattern"] == "disease/female"
