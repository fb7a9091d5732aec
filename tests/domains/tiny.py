"""Tiny files in each real source's format, and the checks every real source must pass."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.data import SPLITS, DomainData
from tests.workspace import REPO

REAL = REPO.parent / "shared" / "data" / "real"  # the checked-in real files (see its README)
BIG = {"seed": 200, "pool": 2000, "val": 300, "test_id": 600, "test_shift": 600,
       "reference": 600}


def real_path(name: str) -> Path:
    """A file or folder under :data:`REAL`; skips the test when it is absent."""
    path = REAL / name
    if not path.exists():
        pytest.skip(f"{path} absent (real-data check only where ../shared/data/real exists)")
    return path


def check_splits(data: DomainData, sizes: Mapping[str, int]) -> None:
    """The contract the harness relies on, for any source and any data size."""
    assert set(data.splits) == set(SPLITS)
    for name, split in data.splits.items():
        assert 0 < len(split) <= sizes[name], name
        assert split.x.dtype == np.float32 and np.isfinite(split.x).all(), name
        assert 0 <= split.y.min() and split.y.max() < data.n_classes, name
        assert 0 <= split.group.min() and split.group.max() < len(data.group_names), name
        assert split.meta["pattern"].max() < len(data.pattern_names), name


def write_medmnist(path: Path, rgb: bool, labels_2d: bool, n: tuple[int, int, int] = (60, 12, 16),
                   size: int = 28, n_classes: int = 2, seed: int = 0) -> Path:
    """A MedMNIST-format ``.npz``: class c is a brighter square in a corner, on noise."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for part, count in zip(("train", "val", "test"), n, strict=True):
        y = np.arange(count) % n_classes
        img = rng.integers(0, 80, (count, size, size) + ((3,) if rgb else ())).astype(np.uint8)
        for c in range(n_classes):
            r0 = (c % 2) * size // 2
            img[y == c, r0:r0 + size // 2, : size // 2] += np.uint8(120)
        arrays[f"{part}_images"] = img
        arrays[f"{part}_labels"] = y[:, None].astype(np.uint8) if labels_2d else y.astype(np.uint8)
    np.savez(path, **arrays)
    return path


HEART_COLUMNS = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang",
                 "oldpeak", "slope", "ca", "thal", "target"]


def heart_rows(n: int, seed: int) -> pd.DataFrame:
    """``n`` plausible patients; disease goes with age and exercise angina."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(30, 75, n), "sex": rng.integers(0, 2, n), "cp": rng.integers(1, 5, n),
        "trestbps": rng.integers(100, 180, n), "chol": rng.integers(150, 320, n),
        "fbs": rng.integers(0, 2, n), "restecg": rng.integers(0, 3, n),
        "thalach": rng.integers(90, 200, n), "exang": rng.integers(0, 2, n),
        "oldpeak": rng.uniform(0, 4, n).round(1), "slope": rng.integers(1, 4, n),
        "ca": rng.integers(0, 4, n), "thal": rng.choice([3, 6, 7], n),
    })
    frame["target"] = np.where(frame["exang"] + (frame["age"] > 55) > 0, rng.integers(1, 5, n), 0)
    return frame.astype(object)


def write_heart(folder: Path, n: int = 30, header: bool = True) -> Path:
    """The four ``processed.<site>.data`` files, with the real files' kinds of missing values.

    '?' and blanks, and in Switzerland cholesterol 0.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for k, site in enumerate(("cleveland", "hungarian", "switzerland", "va")):
        frame = heart_rows(n, seed=k)
        frame.loc[1, "ca"] = "?"
        frame.loc[2, "thal"] = ""
        frame.loc[3, "slope"] = "?"
        if site == "switzerland":
            frame["chol"] = 0
        text = frame.to_csv(header=header, index=False, columns=HEART_COLUMNS)
        (folder / f"processed.{site}.data").write_text(text)
    return folder


def write_weather(path: Path, days: int = 800, start: str = "2012-01-01") -> Path:
    """A vega ``seattle-weather.csv``-format file of ``days`` consecutive days."""
    rng = np.random.default_rng(0)
    date = pd.date_range(start, periods=days, freq="D")
    season = np.cos(2 * np.pi * date.day_of_year.to_numpy() / 365.25)
    wet = rng.random(days) < 0.35 + 0.25 * season
    frame = pd.DataFrame({
        "date": date.strftime("%Y/%m/%d"),
        "precipitation": np.where(wet, rng.gamma(1.2, 5.0, days), 0.0).round(1),
        "temp_max": (15 - 8 * season + rng.normal(0, 2, days)).round(1),
        "temp_min": (7 - 5 * season + rng.normal(0, 2, days)).round(1),
        "wind": rng.gamma(3, 1.1, days).round(1),
        "weather": np.where(wet, "rain", "sun"),
    })
    frame.to_csv(path, index=False)
    return path


def write_robot_runs(folder: Path, profiles: tuple[int, ...] = (0, 0, 0, 1, 1, 1, 2, 2),
                     steps: tuple[int, ...] = (300, 240, 200), seed: int = 0) -> Path:
    """``measurement_K`` folders (K from 1) of headerless CSVs.

    Run K replays command profile ``profiles[K-1]`` (a fixed torque sequence) with its own
    measurement noise.
    """
    rng = np.random.default_rng(seed)
    commands = [_command(rng, steps[p]) for p in range(max(profiles) + 1)]
    for k, profile in enumerate(profiles, start=1):
        u = commands[profile]
        velocity = np.cumsum(u, axis=0) * 0.004 + rng.normal(0, 0.01, u.shape)
        angle = np.cumsum(velocity, axis=0) * 0.004 + 0.3 * profile
        states = np.concatenate([angle, velocity], axis=1)
        states = np.concatenate([states[:1], states])  # one state more than inputs
        run = folder / f"measurement_{k}"
        run.mkdir(parents=True)
        np.savetxt(run / "trajectory.csv", states, delimiter=",", fmt="%.6g")
        np.savetxt(run / "input.csv", u, delimiter=",", fmt="%.6g")
        np.savetxt(run / "time.csv", np.arange(len(states)) * 0.004, fmt="%.6g")
    return folder


def _command(rng: np.random.Generator, steps: int) -> np.ndarray:
    """A smooth torque profile with occasional steps (the spikes to predict)."""
    t = np.arange(steps)[:, None] * 0.004
    u = np.sin(2 * np.pi * t * rng.uniform(0.5, 2.0, 6) + rng.uniform(0, 6, 6))
    jumps = rng.random((steps, 6)) < 0.01
    return u + np.cumsum(jumps * rng.normal(0, 2.0, (steps, 6)), axis=0)
