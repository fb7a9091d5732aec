"""The data model: a domain's named splits, each an ``(x, y, group, meta)`` table, and their
on-disk format (one ``.npz`` per split plus ``domain.json``; no pickles anywhere).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import modalities
from benchmark.io import DataFormatError, atomic_write_json, atomic_write_npz

SPLITS: tuple[str, ...] = ("seed", "pool", "val", "test_id", "test_shift", "reference")
_META_PREFIX = "meta."
MIN_ITEMS = 1  # a split with no items breaks every stage that reads it
TRANSFER_FOLDER = "transfer_from"  # a transfer domain's other site, inside its data folder
LEARNING_SPLITS: tuple[str, ...] = ("seed", "pool")  # what the encoder and generator learn on



@dataclass
class Split:
    """One split: inputs ``x`` (float32), labels ``y`` and fairness ``group`` (int64, one per
    item) and ``meta`` columns (one array per key, one entry per item).
    """

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.group = np.asarray(self.group, dtype=np.int64)
        n = len(self.x)
        for name, arr in [("y", self.y), ("group", self.group), *self.meta.items()]:
            if len(arr) != n:
                raise DataFormatError(f"split column {name!r} has {len(arr)} rows, x has {n}")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index: np.ndarray) -> Split:
        """Rows ``index`` of this split (a copy)."""
        return Split(
            self.x[index], self.y[index], self.group[index],
            {k: v[index] for k, v in self.meta.items()},
        )


@dataclass
class DomainData:
    """Everything a domain yields: its modality, label/group vocabularies and the six splits."""

    name: str
    modality: str
    class_names: list[str]
    group_names: list[str]
    splits: dict[str, Split]
    pattern_names: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in modalities.names():
            raise DataFormatError(f"modality {self.modality!r} is not one of "
                                  f"{modalities.names()}")
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise DataFormatError(f"domain {self.name!r} lacks splits {missing}")
        shapes = {s: sp.x.shape[1:] for s, sp in self.splits.items()}
        if len(set(shapes.values())) > 1:
            raise DataFormatError(f"domain {self.name!r}: splits disagree on input shape {shapes}")

    def __getitem__(self, split: str) -> Split:
        return self.splits[split]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.splits["seed"].x.shape[1:])


def save_domain(data: DomainData, folder: str | Path) -> None:
    """Write ``data`` to ``folder``; ``domain.json`` goes last so its presence means complete.

    Every split is validated before the first file is written, so a bad source leaves nothing.
    """
    folder = Path(folder)
    for name, split in data.splits.items():
        validate_split(split, folder / f"{name}.npz", data.n_classes, len(data.group_names))
    folder.mkdir(parents=True, exist_ok=True)
    for name, split in data.splits.items():
        save_split(split, folder / f"{name}.npz")
    card = {
        "name": data.name, "modality": data.modality, "class_names": data.class_names,
        "group_names": data.group_names, "pattern_names": data.pattern_names,
        "input_shape": list(data.input_shape),
        "sizes": {s: len(sp) for s, sp in data.splits.items()}, "info": data.info,
    }
    atomic_write_json(folder / "domain.json", card)


def save_split(split: Split, path: str | Path, n_classes: int | None = None,
               n_groups: int | None = None) -> None:
    """Write one split atomically (the format :func:`load_split` reads), validated first so
    that no later stage reads NaN inputs or labels outside the classes.
    """
    validate_split(split, path, n_classes, n_groups)
    arrays = {"x": split.x, "y": split.y, "group": split.group}
    arrays.update({_META_PREFIX + k: np.asarray(v) for k, v in split.meta.items()})
    atomic_write_npz(path, arrays)


def validate_split(split: Split, path: str | Path, n_classes: int | None = None,
                   n_groups: int | None = None) -> None:
    """Raise :class:`DataFormatError` naming ``path`` and the array unless ``split`` holds at
    least :data:`MIN_ITEMS` items, finite inputs, labels in ``0..n_classes-1`` and group ids in
    ``0..n_groups-1`` and no object meta. Without the vocabularies (a constructed dataset),
    labels must be non-negative and groups at least -1, the unknown group of synthetic items.

    Run on save and on load: a NaN input or an out-of-range label otherwise surfaces as NaN
    embeddings, a silently wrong accuracy or an IndexError deep inside torch.
    """
    if len(split) < MIN_ITEMS:
        raise DataFormatError(f"{path}: x: expected at least {MIN_ITEMS} item, got {len(split)}")
    finite = np.isfinite(split.x.reshape(len(split), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataFormatError(f"{path}: x: inputs must be finite, got NaN or inf in {len(bad)} "
                              f"of {len(split)} items (first: item {bad[0]})")
    # group -1 = unknown: synthetic items of a constructed dataset (benchmark.method), saved
    # without the vocabularies; a prepared domain's splits hold real groups only
    unknown = -1 if n_groups is None else 0
    for key, values, count, what, low in (("y", split.y, n_classes, "labels", 0),
                                          ("group", split.group, n_groups, "group ids", unknown)):
        high = (count - 1) if count is not None else None
        wrong = (values < low) | (values > high) if high is not None else values < low
        if wrong.any():
            expected = f"{low}..{high}" if high is not None else f"at least {low}"
            raise DataFormatError(f"{path}: {key}: {what} must be {expected}, got "
                                  f"{values[np.argmax(wrong)]}")
    for key, column in split.meta.items():
        if np.asarray(column).dtype == object:
            raise DataFormatError(f"{path}: {_META_PREFIX}{key}: has dtype object; expected "
                                  "numbers or fixed-width strings")


def load_domain(folder: str | Path, splits: tuple[str, ...] = SPLITS) -> DomainData:
    """Read a folder written by :func:`save_domain` (only ``splits`` are loaded)."""
    folder = Path(folder)
    card_path = folder / "domain.json"
    if not card_path.is_file():
        raise FileNotFoundError(f"{card_path} is missing: run the prepare stage first "
                                "(`dvc repro prepare`)")
    try:
        card = json.loads(card_path.read_text())
        n_classes, n_groups = len(card["class_names"]), len(card["group_names"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DataFormatError(f"{card_path}: not a domain card written by prepare ({err!r}); "
                              "rerun the prepare stage") from None
    loaded = {name: load_split(folder / f"{name}.npz", n_classes, n_groups) for name in splits}
    data = DomainData.__new__(DomainData)  # partial loads skip the all-splits check
    data.__dict__.update(
        name=card["name"], modality=card["modality"], class_names=card["class_names"],
        group_names=card["group_names"], splits=loaded,
        pattern_names=card.get("pattern_names", []), info=card.get("info", {}),
    )
    if set(splits) == set(SPLITS):
        data.__post_init__()
    return data


def load_learning_data(folder: str | Path) -> DomainData:
    """The seed + pool a domain's encoder and generator learn on: the other site's, which
    ``prepare`` writes to :data:`TRANSFER_FOLDER` for a transfer domain (its card says so, so a
    missing folder is an error, never a silent fallback), else the domain's own.
    """
    card = load_domain(folder, splits=())
    transfer = "transfer_from" in card.info
    return load_domain(Path(folder) / TRANSFER_FOLDER if transfer else folder, LEARNING_SPLITS)


def load_split(path: str | Path, n_classes: int | None = None,
               n_groups: int | None = None) -> Split:
    """Read one split file; it must hold ``x`` (numbers), ``y`` and ``group`` (integers) and
    pass :func:`validate_split`. A truncated or foreign file raises :class:`DataFormatError`
    naming it, never a zipfile or pickle error.
    """
    arrays = _read_npz(Path(path))
    for key in ("x", "y", "group"):
        if key not in arrays:
            raise DataFormatError(f"{path}: array {key!r} missing (has {sorted(arrays)})")
    if arrays["x"].dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: x: expected numeric inputs, got dtype {arrays['x'].dtype}")
    for key in ("y", "group"):
        if arrays[key].dtype.kind not in "biu":
            raise DataFormatError(f"{path}: {key}: expected integer ids, got dtype "
                                  f"{arrays[key].dtype}")
    meta = {k[len(_META_PREFIX):]: v for k, v in arrays.items() if k.startswith(_META_PREFIX)}
    try:
        split = Split(arrays["x"], arrays["y"], arrays["group"], meta)
    except DataFormatError as err:
        raise DataFormatError(f"{path}: {err}") from None
    validate_split(split, path, n_classes, n_groups)
    return split


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` without unpickling; unreadable content is a DataFormatError."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: split file missing; rerun the prepare stage")
    arrays: dict[str, np.ndarray] = {}
    key = None
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataFormatError(f"{path}: a single array, not an .npz archive of x, y, group")
        with npz:
            for key in npz.files:
                arrays[key] = npz[key]
    except DataFormatError:
        raise
    except ValueError as err:
        if key is not None:  # an object array: reading it would need unpickling
            raise DataFormatError(f"{path}: {key}: unreadable without unpickling ({err}); "
                                  "expected numbers or fixed-width strings") from None
        raise DataFormatError(f"{path}: not a readable .npz split file ({err}); rerun the "
                              "prepare stage") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DataFormatError(f"{path}: not a readable .npz split file ({err}); rerun the "
                              "prepare stage") from None
    return arrays


def concat_splits(parts: Mapping[str, Split]) -> Split:
    """Stack splits row-wise, keeping the meta columns they all share."""
    values = list(parts.values())
    shared = set.intersection(*(set(p.meta) for p in values)) if values else set()
    return Split(
        np.concatenate([p.x for p in values]), np.concatenate([p.y for p in values]),
        np.concatenate([p.group for p in values]),
        {k: np.concatenate([p.meta[k] for p in values]) for k in sorted(shared)},
    )
