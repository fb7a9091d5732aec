"""Shared machinery of the real-data sources.

Finding their files, carving the harness's splits out of a fixed data set, and skewing the
``seed`` split the way the simulators do.

Real data sets are finite, so a real source yields *at most* the requested split sizes: when the
in-distribution data is too small, every carved split shrinks by the same factor, which keeps the
configured proportions (a small seed, a large pool); the ``prepare`` stage says so on stderr,
records it in ``domain.json`` and fails when a split would keep fewer than 20 items. Carving is
random but fully determined by the domain seed. Statistics a source needs (scalers, medians,
label thresholds) come from the training part only (the items that end up in ``seed``, ``pool``
or ``reference``), never from ``val`` or the test splits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from benchmark.data import DataFormatError
from benchmark.domain import OptionError

TRAIN_SPLITS: tuple[str, ...] = ("seed", "pool", "reference")
HELD_SPLITS: tuple[str, ...] = ("val", "test_id")


class SourceDataMissing(FileNotFoundError):
    """A real source's files are absent; the message names the path and how to obtain them.

    A dedicated type so callers (the contract tests) can tell "no data here" from a bug.
    """


def require(path: str | Path, what: str, how: str) -> Path:
    """``path`` if it exists, else one :class:`SourceDataMissing` saying what and how to get it."""
    path = Path(path)
    if not path.exists():
        raise SourceDataMissing(f"{path}: {what} not found; {how}")
    return path


def check_fraction(value: float, name: str, low_open: bool = True) -> None:
    """Reject option values outside (0, 1] (or [0, 1]), naming the option."""
    ok = (0.0 < value <= 1.0) if low_open else (0.0 <= value <= 1.0)
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise OptionError(name, f"got {value!r}, expected a fraction in {interval}")


def scaled_counts(available: int, wanted: Mapping[str, int], names: Sequence[str],
                  where: str) -> dict[str, int]:
    """The wanted sizes of ``names``, scaled by one factor when data is short.

    Largest-remainder rounding over ``available`` items keeps the configured proportions.
    """
    want = np.array([int(wanted[n]) for n in names], dtype=np.int64)
    if want.sum() <= available:
        return dict(zip(names, want.tolist(), strict=True))
    quota = want * available / want.sum()
    counts = np.floor(quota).astype(np.int64)
    rest = np.argsort(-(quota - counts), kind="stable")[: available - counts.sum()]
    counts[rest] += 1
    if (counts == 0).any():
        raise DataFormatError(f"{where}: only {available} usable items, too few to fill the "
                              f"splits {list(names)} (wanted {want.tolist()})")
    return dict(zip(names, counts.tolist(), strict=True))


def hold_out(n: int, wanted: Mapping[str, int], rng: np.random.Generator,
             where: str) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    """Draw ``val`` and ``test_id`` from ``n`` in-distribution items.

    Returns them, the training part (indices that may go to seed/pool/reference) and the counts
    of all five splits.
    """
    counts = scaled_counts(n, wanted, (*TRAIN_SPLITS, *HELD_SPLITS), where)
    order = rng.permutation(n)
    held, start = {}, 0
    for name in HELD_SPLITS:
        held[name] = order[start:start + counts[name]]
        start += counts[name]
    return held, order[start:], counts


def carve_training(train: np.ndarray, counts: Mapping[str, int], weights: np.ndarray,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Split the training part into seed, pool and reference.

    The seed is drawn with ``weights``, so rare patterns can be under-sampled; the rest uniformly.
    """
    p = weights / weights.sum()
    seed = rng.choice(train, size=counts["seed"], replace=False, p=p)
    rest = rng.permutation(np.setdiff1d(train, seed))
    pool = rest[: counts["pool"]]
    reference = rest[counts["pool"]: counts["pool"] + counts["reference"]]
    return {"seed": seed, "pool": pool, "reference": reference}


def subsample(n: int, wanted: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``wanted`` of ``n`` items, in random order."""
    return rng.permutation(n)[: min(n, int(wanted))]


def patterns(y: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """One pattern index per item: class x group (``class_names[c]/group_names[g]``)."""
    return np.asarray(y, dtype=np.int64) * n_groups + np.asarray(group, dtype=np.int64)


def pattern_names(class_names: Sequence[str], group_names: Sequence[str]) -> list[str]:
    """Names of :func:`patterns`, in index order."""
    return [f"{c}/{g}" for c in class_names for g in group_names]


def rare_weights(pattern: np.ndarray, keep: float) -> tuple[np.ndarray, int]:
    """Seed-draw weights keeping ``keep`` of the rarest present pattern's share, and that pattern.

    This squeezes a real pattern the way the simulators squeeze their rare ones.
    """
    values, counts = np.unique(pattern, return_counts=True)
    rarest = int(values[np.argmin(counts)])
    return np.where(pattern == rarest, keep, 1.0), rarest


def fit_scaler(x: np.ndarray, axis: int | tuple[int, ...] = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``axis`` (a constant column keeps std 1)."""
    mean = x.mean(axis=axis, keepdims=True)
    std = x.std(axis=axis, keepdims=True)
    return mean, np.where(std > 1e-8, std, 1.0)
