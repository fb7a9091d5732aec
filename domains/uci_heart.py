"""Real tabular clinical data: UCI Heart Disease from four hospitals.

One hospital is held out as the shift. Data card: :class:`UCIHeart`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.data import DataFormatError, DomainData, Split
from benchmark.domain import DOMAINS, Domain, OptionError
from domains.realdata import (
    carve_training,
    check_fraction,
    fit_scaler,
    hold_out,
    pattern_names,
    patterns,
    rare_weights,
    require,
    subsample,
)

SITES: tuple[str, ...] = ("cleveland", "hungarian", "switzerland", "va")
COLUMNS: tuple[str, ...] = ("age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach",
                            "exang", "oldpeak", "slope", "ca", "thal", "target")
CATEGORIES: dict[str, tuple[float, ...]] = {
    "cp": (1, 2, 3, 4), "restecg": (0, 1, 2), "slope": (1, 2, 3), "thal": (3, 6, 7),
}
NUMERIC: tuple[str, ...] = ("age", "sex", "trestbps", "chol", "fbs", "thalach", "exang",
                            "oldpeak", "ca")
CLASS_NAMES: list[str] = ["no_disease", "disease"]
GROUP_NAMES: list[str] = ["female", "male"]
_HOW = ("download the 'processed.<site>.data' files (cleveland, hungarian, switzerland, va) of "
        "https://archive.ics.uci.edu/dataset/45/heart+disease into that folder and set "
        "domains.<domain>.options.uci_heart.path (see raw/README.md)")


@DOMAINS.register("uci_heart")
class UCIHeart(Domain):
    """Heart disease diagnosis from 13 clinical measurements, across four hospitals.

    Provenance: UCI Machine Learning Repository, "Heart Disease" (Janosi, Steinbrunn, Pfisterer,
    Detrano, 1988; doi:10.24432/C52P4X), the ``processed.{cleveland,hungarian,switzerland,va}
    .data`` files: Cleveland Clinic (303 patients), Hungarian Institute of Cardiology (294),
    University Hospitals Zurich and Basel (123), VA Long Beach (200). Licence: CC BY 4.0. The
    files may have a header row or not; ``?`` and blanks are missing values, and so is
    ``chol == 0`` (all of Switzerland and 49 VA patients: a cholesterol of 0 is impossible).

    Items: one patient. ``x`` (tabular, float32): the numeric features (age, sex, resting blood
    pressure, cholesterol, fasting sugar, max heart rate, exercise angina, ST depression, vessels)
    standardised with training statistics after imputing the training median, one-hot chest pain
    type / rest ECG / ST slope / thalassaemia (all zero when missing), and one missing-indicator
    column per feature that is missing anywhere in the files.

    Classes: ``no_disease`` / ``disease`` (angiographic target > 0). Group: sex (``female`` /
    ``male``; women are about a fifth of the patients). Shift: ``test_shift`` holds only
    patients of ``shift_site``, a hospital no other split contains (disease prevalence ranges from
    36% in Hungary to 93% in Switzerland, and sites record different subsets of the features).
    Cleveland is the default: the largest site with the most women, and the largest
    ID-to-shift drop of the four (Hungary, Switzerland and VA record few vessels/thal values).
    The other splits are carved from the three remaining hospitals, scaled down together when
    they hold fewer patients than requested. Rare pattern: the rarest class/sex pattern of the
    training part (typically diseased women) keeps only ``rare_keep`` of its share in ``seed``.
    ``meta``: pattern, site (index into ``info["sites"]``), row (line in the site's file).
    """

    modality = "tabular"

    def __init__(self, path: str = "raw/uci_heart_disease", shift_site: str = "cleveland",
                 rare_keep: float = 0.25) -> None:
        self.path = path
        self.shift_site = shift_site
        self.rare_keep = rare_keep

    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """Hold out ``shift_site``, carve the rest, then fit the preprocessing on training rows."""
        if self.shift_site not in SITES:
            raise OptionError("shift_site", f"got {self.shift_site!r}, expected one of {SITES}")
        check_fraction(self.rare_keep, "rare_keep")
        table = load_heart(self.path)
        rng = np.random.default_rng(seed)
        shifted = table["site"].to_numpy() == SITES.index(self.shift_site)
        ident = np.flatnonzero(~shifted)
        held, train, counts = hold_out(len(ident), sizes, rng, str(self.path))
        y = (table["target"].to_numpy() > 0).astype(np.int64)
        group = table["sex"].to_numpy().astype(np.int64)
        pattern = patterns(y, group, len(GROUP_NAMES))
        weights, rare = rare_weights(pattern[ident[train]], self.rare_keep)
        index = {**held, **carve_training(train, counts, weights, rng)}
        index = {name: ident[rows] for name, rows in index.items()}
        shift_rows = np.flatnonzero(shifted)
        index["test_shift"] = shift_rows[subsample(len(shift_rows), sizes["test_shift"], rng)]
        x, columns = encode(table, ident[train])
        splits = {name: Split(x[i], y[i], group[i], {
            "pattern": pattern[i], "site": table["site"].to_numpy()[i],
            "row": table["row"].to_numpy()[i]}) for name, i in index.items()}
        names = pattern_names(CLASS_NAMES, GROUP_NAMES)
        info = {"folder": str(self.path), "sites": list(SITES), "shift_site": self.shift_site,
                "features": columns, "rare_pattern": names[rare], "rare_keep": self.rare_keep,
                "licence": "CC BY 4.0 (UCI Heart Disease)"}
        return DomainData("uci_heart", self.modality, list(CLASS_NAMES), list(GROUP_NAMES),
                          splits, names, info)


def load_heart(folder: str | Path) -> pd.DataFrame:
    """All four sites' patients with ``site`` and ``row`` columns; missing values are NaN."""
    folder = require(folder, "UCI Heart Disease folder", _HOW)
    frames = [_read_site(require(folder / f"processed.{site}.data",
                                 "UCI Heart Disease file", _HOW), k)
              for k, site in enumerate(SITES)]
    return pd.concat(frames, ignore_index=True)


def _read_site(path: Path, site: int) -> pd.DataFrame:
    """One ``processed.<site>.data`` file, with or without the header row."""
    with path.open() as fh:
        header = fh.readline().strip().lower().startswith("age")
    expected = (f"expected {len(COLUMNS)} numeric columns {list(COLUMNS)} with '?' or blank "
                "for missing")
    try:
        frame = pd.read_csv(path, header=None, skiprows=int(header), na_values=["?", ""],
                            skipinitialspace=True).astype(np.float64)
    except (ValueError, pd.errors.ParserError) as err:
        raise DataFormatError(f"{path}: {expected} ({err})") from None
    if frame.shape[1] != len(COLUMNS):
        raise DataFormatError(f"{path}: {expected}; found {frame.shape[1]} columns")
    frame.columns = list(COLUMNS)
    for key in ("sex", "target"):
        if frame[key].isna().any():
            raise DataFormatError(f"{path}: column {key!r} has missing values; every patient "
                                  "needs a sex and a target")
    frame.loc[frame["chol"] == 0, "chol"] = np.nan  # recorded as 0 when not measured
    return frame.assign(site=site, row=np.arange(len(frame)))


def encode(table: pd.DataFrame, train: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Feature matrix and column names; medians, means and stds come from rows ``train``."""
    numeric = table[list(NUMERIC)]
    medians = numeric.iloc[train].median().fillna(0.0)  # 0: a feature never seen in training
    filled = numeric.fillna(medians).to_numpy()
    mean, std = fit_scaler(filled[train])
    parts, names = [(filled - mean) / std], list(NUMERIC)
    for key, levels in CATEGORIES.items():
        values = table[key].to_numpy()
        parts.append(np.stack([values == level for level in levels], axis=1))
        names += [f"{key}={level:g}" for level in levels]
    features = [c for c in COLUMNS[:-1] if table[c].isna().any()]
    parts.append(table[features].isna().to_numpy())
    names += [f"{c}_missing" for c in features]
    return np.concatenate(parts, axis=1).astype(np.float32), names
