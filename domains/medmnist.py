"""Real biomedical images: a 2-D MedMNIST v2 data set from a local ``.npz`` file.

BreastMNIST by default, with a controlled acquisition shift (contrast, blur, noise or stain) as
the test shift. Data card: :class:`MedMNIST`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from benchmark.data import DataFormatError, DomainData, Split
from benchmark.domain import DOMAINS, Domain, OptionError
from domains.realdata import (
    TRAIN_SPLITS,
    carve_training,
    check_fraction,
    pattern_names,
    patterns,
    rare_weights,
    require,
    scaled_counts,
    subsample,
)

GROUP_NAMES: list[str] = ["dark", "bright"]
SHIFTS: tuple[str, ...] = ("contrast", "blur", "noise", "stain")
_PARTS: tuple[str, ...] = ("train", "val", "test")
_HOW = ("download breastmnist.npz (or another 2-D MedMNIST file) from https://medmnist.com, e.g. "
        "https://zenodo.org/records/10519652/files/breastmnist.npz, and set "
        "domains.<domain>.options.medmnist.path (see raw/README.md)")


@DOMAINS.register("medmnist")
class MedMNIST(Domain):
    """MedMNIST v2 images (default: BreastMNIST, 28x28 breast ultrasound) from a local ``.npz``.

    Provenance: Yang et al., "MedMNIST v2", Scientific Data 2023; https://medmnist.com, files on
    Zenodo (records/10519652). Licence: CC BY 4.0 for BreastMNIST (other MedMNIST sets inherit
    their source's licence; check before redistributing). The file holds ``train_/val_/test_``
    ``images`` (N, H, W) grayscale or (N, H, W, 3) RGB uint8 and ``labels`` (N,) or (N, 1);
    multi-label (ChestMNIST) and 3-D sets are rejected. ``x``: float32 (C, H, W) in [0, 1].

    Classes: the file's label ids, named by ``class_names`` (BreastMNIST: 0 malignant,
    1 normal/benign). Group: MedMNIST carries no demographics, so the group is an acquisition
    proxy: ``dark`` / ``bright`` = mean image intensity below / above the training median.

    Splits: ``seed``, ``pool`` and ``reference`` are carved from the official train part (scaled
    down together when it is smaller than requested), ``val`` from the official val part,
    ``test_id`` from the official test part. ``test_shift`` holds the *same* test images as
    ``test_id`` after the acquisition shift ``shift`` at ``shift_strength`` (contrast: intensity
    range squeezed towards each image's mean; blur: Gaussian blur; noise: sensor noise; stain:
    optical densities rescaled per channel, a gamma change for grayscale), so the ID-to-shift gap
    measures the shift alone. Rare pattern: the rarest class/group pattern of the training part
    keeps only ``rare_keep`` of its share in ``seed``. ``meta``: pattern, index into the
    official part, brightness.
    """

    modality = "image"

    def __init__(self, path: str = "raw/breastmnist.npz", shift: str = "contrast",
                 shift_strength: float = 1.0, class_names: list[str] | None = None,
                 rare_keep: float = 0.25) -> None:
        self.path = path
        self.shift = shift
        self.shift_strength = shift_strength
        self.class_names = class_names
        self.rare_keep = rare_keep

    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """Carve the six splits from the file's official parts, deterministically from ``seed``."""
        self._check_options()
        parts = load_medmnist(self.path)
        names = self._names(parts)
        rng = np.random.default_rng(seed)
        train_x, train_y = parts["train"]
        brightness = train_x.mean(axis=(1, 2, 3))
        threshold = float(np.median(brightness))
        counts = scaled_counts(len(train_x), sizes, TRAIN_SPLITS, str(self.path))
        pattern = patterns(train_y, brightness > threshold, len(GROUP_NAMES))
        weights, rare = rare_weights(pattern, self.rare_keep)
        index = carve_training(np.arange(len(train_x)), counts, weights, rng)
        index["val"] = subsample(len(parts["val"][0]), sizes["val"], rng)
        test = subsample(len(parts["test"][0]), min(sizes["test_id"], sizes["test_shift"]), rng)
        source = {"seed": "train", "pool": "train", "reference": "train", "val": "val"}
        splits = {s: self._split(parts[source[s]], index[s], threshold) for s in source}
        splits["test_id"] = self._split(parts["test"], test, threshold)
        splits["test_shift"] = self._split(parts["test"], test, threshold, shift_rng=rng)
        patt = pattern_names(names, GROUP_NAMES)
        info = {"file": str(self.path), "shift": self.shift, "shift_strength": self.shift_strength,
                "brightness_threshold": threshold, "rare_pattern": patt[rare],
                "rare_keep": self.rare_keep,
                "licence": "BreastMNIST: CC BY 4.0; other MedMNIST sets: their source's"}
        return DomainData("medmnist", self.modality, names, list(GROUP_NAMES), splits, patt, info)

    def _check_options(self) -> None:
        if self.shift not in SHIFTS:
            raise OptionError("shift", f"got {self.shift!r}, expected one of {SHIFTS}")
        if self.shift_strength < 0:
            raise OptionError("shift_strength", f"got {self.shift_strength!r}, expected >= 0")
        check_fraction(self.rare_keep, "rare_keep")

    def _names(self, parts: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
        """``class_names`` if given (checked against the labels), else ``class0``, ``class1``..."""
        top = max(int(y.max()) for _, y in parts.values())
        if self.class_names is None:
            return [f"class{c}" for c in range(top + 1)]
        if len(self.class_names) <= top:
            raise DataFormatError(f"{self.path}: labels go up to {top} but option class_names "
                                  f"has {len(self.class_names)} names")
        return list(self.class_names)

    def _split(self, part: tuple[np.ndarray, np.ndarray], index: np.ndarray, threshold: float,
               shift_rng: np.random.Generator | None = None) -> Split:
        """Rows ``index`` of one official part, shifted if ``shift_rng`` is given.

        The group always comes from the unshifted image, so it names the same items in both test
        splits.
        """
        raw, y = part[0][index], part[1][index]
        brightness = raw.mean(axis=(1, 2, 3))
        group = (brightness > threshold).astype(np.int64)
        x = raw if shift_rng is None else apply_shift(raw, self.shift, self.shift_strength,
                                                      shift_rng)
        meta = {"pattern": patterns(y, group, len(GROUP_NAMES)), "index": index,
                "brightness": brightness}
        return Split(x, y, group, meta)


def load_medmnist(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train, val and test parts of a MedMNIST ``.npz``, never unpickled.

    Returns ``{part: (images float32 (N, C, H, W) in [0, 1], labels int64 (N,))}``.
    """
    path = require(path, "MedMNIST file", _HOW)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise DataFormatError(f"{path}: not a readable MedMNIST .npz ({err})") from None
    return {part: _part(arrays, part, path) for part in _PARTS}


def _part(arrays: Mapping[str, np.ndarray], part: str, path: Path) -> tuple[np.ndarray, ...]:
    """One official part, checked: images (N,H,W) or (N,H,W,1|3), labels (N,) or (N,1)."""
    keys = (f"{part}_images", f"{part}_labels")
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataFormatError(f"{path}: arrays {missing} missing; a MedMNIST file holds "
                              f"train_/val_/test_ images and labels (has {sorted(arrays)})")
    images, labels = arrays[keys[0]], arrays[keys[1]]
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataFormatError(f"{path}: {keys[0]} has shape {images.shape}; expected (N, H, W) "
                              "or (N, H, W, 3) (3-D MedMNIST volumes are not supported)")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != len(images) or labels.min(initial=0) < 0:
        raise DataFormatError(f"{path}: {keys[1]} has shape {labels.shape}; expected "
                              f"({len(images)},) or ({len(images)}, 1) non-negative class ids "
                              "(multi-label MedMNIST sets are not supported)")
    x = np.moveaxis(images, -1, 1).astype(np.float32) / 255.0
    return x, labels.astype(np.int64)


def apply_shift(x: np.ndarray, kind: str, strength: float,
                rng: np.random.Generator) -> np.ndarray:
    """An acquisition change applied to (N, C, H, W) images in [0, 1]."""
    s, size = float(strength), x.shape[-1]
    if kind == "contrast":
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        out = mean + (x - mean) * max(0.05, 1.0 - 0.6 * s)
    elif kind == "blur":
        out = gaussian_filter(x, sigma=(0, 0, 1.5 * s * size / 28, 1.5 * s * size / 28),
                              mode="nearest")
    elif kind == "noise":
        out = x + 0.15 * s * rng.standard_normal(x.shape)
    elif kind == "stain":
        scale = np.array([1.0 + 0.6 * s, 1.0 - 0.3 * s, 1.0 + 0.3 * s])[: x.shape[1]]
        od = -np.log(np.clip(x, 1e-3, 1.0)) * np.maximum(scale, 0.05)[None, :, None, None]
        out = np.exp(-od)
    else:
        raise ValueError(f"unknown shift {kind!r}; expected one of {SHIFTS}")
    return np.clip(out, 0.0, 1.0).astype(np.float32)
