"""The Seattle weather source on a tiny CSV in the vega format, and on the copy that ships."""

import numpy as np
import pandas as pd
import pytest

from benchmark.data import DataFormatError
from domains.seattle_weather import SEASONS, SeattleWeather
from tests.domains.tiny import BIG, check_splits, write_weather

SIZES = {"seed": 20, "pool": 100, "val": 20, "test_id": 40, "test_shift": 40, "reference": 20}


@pytest.fixture
def csv(tmp_path):
    return write_weather(tmp_path / "weather.csv")


def _days(path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.set_index("date")


def _dates(split) -> pd.DatetimeIndex:
    return pd.to_datetime(split.meta["date"].astype(str), format="%Y%m%d")


def test_labels_are_tomorrows_rain_and_groups_today(csv) -> None:
    data = SeattleWeather(path=str(csv), window=7).build(SIZES, seed=0)
    check_splits(data, SIZES)
    assert data.input_shape == (4, 7)
    days, heavy = _days(csv), data.info["heavy_rain_mm"]
    for split in data.splits.values():
        tomorrow = days.loc[_dates(split), "precipitation"].to_numpy()
        today = days.loc[_dates(split) - pd.Timedelta(days=1), "precipitation"].to_numpy()
        np.testing.assert_array_equal(split.y, np.select([tomorrow == 0, tomorrow < heavy],
                                                         [0, 1], 2))
        np.testing.assert_array_equal(split.group, today > 0)


def test_held_out_season_never_reaches_the_other_splits(csv) -> None:
    window = 7
    data = SeattleWeather(path=str(csv), window=window, shift="winter").build(BIG, seed=0)
    assert set(_dates(data["test_shift"]).month) <= set(SEASONS["winter"])
    for name in ("seed", "pool", "val", "test_id", "reference"):
        end = _dates(data[name])
        for back in range(window + 1):
            assert not (end - pd.Timedelta(days=back)).month.isin(SEASONS["winter"]).any(), name


def test_last_year_shift(csv) -> None:
    data = SeattleWeather(path=str(csv), shift="last_year").build(BIG, seed=0)
    assert set(_dates(data["test_shift"]).year) == {2014}
    assert _dates(data["test_id"]).year.max() == 2013


def test_gaps_and_missing_columns_name_the_file(csv) -> None:
    frame = pd.read_csv(csv)
    frame.drop(index=10).to_csv(csv, index=False)
    with pytest.raises(DataFormatError, match="weather.csv: dates must be consecutive days"):
        SeattleWeather(path=str(csv)).build(SIZES, seed=0)
    frame.drop(columns="wind").to_csv(csv, index=False)
    with pytest.raises(DataFormatError, match=r"weather.csv: columns \['wind'\] missing"):
        SeattleWeather(path=str(csv)).build(SIZES, seed=0)


def test_options_are_checked(csv) -> None:
    with pytest.raises(ValueError, match="option shift: got 'monsoon'"):
        SeattleWeather(path=str(csv), shift="monsoon").build(SIZES, seed=0)


def test_reads_the_copy_shipped_in_vega_datasets() -> None:
    data = SeattleWeather().build(BIG, seed=0)
    check_splits(data, BIG)
    assert data.info["file"].endswith("seattle-weather.csv")
    winter_days = 31 * 4 + 31 * 4 + 28 * 3 + 29  # Dec, Jan, Feb of 2012-2015
    assert len(data["test_shift"]) == min(600, winter_days - 16)  # the first window lacks a past
    assert 4 <= data.info["heavy_rain_mm"] <= 20
