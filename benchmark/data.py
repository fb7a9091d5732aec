"""The data model: a domain's named splits, each an ``(x, y, group, meta)`` table, and their
on-disk format (one ``.npz`` per split plus ``domain.json``; no pickles anywhere).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.io import atomic_write_json, atomic_write_npz

SPLITS: tuple[str, ...] = ("seed", "pool", "val", "test_id", "test_shift", "reference")
MODALITIES: tuple[str, ...] = ("image", "sequence", "tabular")
_META_PREFIX = "meta."


class DataFormatError(ValueError):
    """A data file or array that does not follow the harness's data model."""


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
        if self.modality not in MODALITIES:
            raise DataFormatError(f"modality {self.modality!r} is not one of {MODALITIES}")
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
    """Write ``data`` to ``folder``; ``domain.json`` goes last so its presence means complete."""
    folder = Path(folder)
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


def save_split(split: Split, path: str | Path) -> None:
    """Write one split atomically (the format :func:`load_split` reads)."""
    arrays = {"x": split.x, "y": split.y, "group": split.group}
    arrays.update({_META_PREFIX + k: _plain(v, k) for k, v in split.meta.items()})
    atomic_write_npz(path, arrays)


def _plain(arr: np.ndarray, key: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == object:
        raise DataFormatError(f"meta column {key!r} has dtype object; use numbers or fixed strings")
    return arr


def load_domain(folder: str | Path, splits: tuple[str, ...] = SPLITS) -> DomainData:
    """Read a folder written by :func:`save_domain` (only ``splits`` are loaded)."""
    folder = Path(folder)
    card_path = folder / "domain.json"
    if not card_path.is_file():
        raise FileNotFoundError(f"{card_path} is missing: run the prepare stage first "
                                "(`dvc repro prepare`)")
    card = json.loads(card_path.read_text())
    loaded = {name: load_split(folder / f"{name}.npz") for name in splits}
    data = DomainData.__new__(DomainData)  # partial loads skip the all-splits check
    data.__dict__.update(
        name=card["name"], modality=card["modality"], class_names=card["class_names"],
        group_names=card["group_names"], splits=loaded,
        pattern_names=card.get("pattern_names", []), info=card.get("info", {}),
    )
    if set(splits) == set(SPLITS):
        data.__post_init__()
    return data


def load_split(path: str | Path) -> Split:
    """Read one split file; it must hold ``x``, ``y`` and ``group``."""
    with np.load(path, allow_pickle=False) as npz:
        for key in ("x", "y", "group"):
            if key not in npz.files:
                raise DataFormatError(f"{path}: array {key!r} missing (has {npz.files})")
        meta = {k[len(_META_PREFIX):]: npz[k] for k in npz.files if k.startswith(_META_PREFIX)}
        return Split(npz["x"], npz["y"], npz["group"], meta)


def concat_splits(parts: Mapping[str, Split]) -> Split:
    """Stack splits row-wise, keeping the meta columns they all share."""
    values = list(parts.values())
    shared = set.intersection(*(set(p.meta) for p in values)) if values else set()
    return Split(
        np.concatenate([p.x for p in values]), np.concatenate([p.y for p in values]),
        np.concatenate([p.group for p in values]),
        {k: np.concatenate([p.meta[k] for p in values]) for k in sorted(shared)},
    )
