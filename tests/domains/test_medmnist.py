"""The MedMNIST source on tiny files in the real format, and on the real BreastMNIST file."""

import numpy as np
import pytest

from benchmark.data import DataFormatError
from domains.medmnist import SHIFTS, MedMNIST, apply_shift
from domains.realdata import SourceDataMissing
from tests.domains.tiny import BIG, check_splits, real_path, write_medmnist

SIZES = {"seed": 10, "pool": 30, "val": 8, "test_id": 10, "test_shift": 10, "reference": 10}


@pytest.mark.parametrize("rgb", [False, True])
@pytest.mark.parametrize("labels_2d", [False, True])
def test_maps_official_parts_to_splits(tmp_path, rgb, labels_2d) -> None:
    path = write_medmnist(tmp_path / "tiny.npz", rgb=rgb, labels_2d=labels_2d)
    data = MedMNIST(path=str(path)).build(SIZES, seed=0)
    check_splits(data, SIZES)
    assert data.input_shape == ((3 if rgb else 1), 28, 28)
    with np.load(path) as npz:
        truth = {part: npz[f"{part}_labels"].reshape(-1) for part in ("train", "val", "test")}
    parts = {"seed": "train", "pool": "train", "reference": "train", "val": "val",
             "test_id": "test", "test_shift": "test"}
    for split, part in parts.items():
        np.testing.assert_array_equal(data[split].y, truth[part][data[split].meta["index"]])
    carved = np.concatenate([data[s].meta["index"] for s in ("seed", "pool", "reference")])
    assert len(np.unique(carved)) == len(carved)  # disjoint parts of train


def test_test_shift_is_the_shifted_test_id(tmp_path) -> None:
    path = write_medmnist(tmp_path / "tiny.npz", rgb=False, labels_2d=True)
    data = MedMNIST(path=str(path), shift="contrast").build(SIZES, seed=0)
    ident, shifted = data["test_id"], data["test_shift"]
    np.testing.assert_array_equal(ident.meta["index"], shifted.meta["index"])
    np.testing.assert_array_equal(ident.group, shifted.group)
    assert shifted.x.std() < 0.7 * ident.x.std()


def test_small_train_part_shrinks_carved_splits_together(tmp_path) -> None:
    path = write_medmnist(tmp_path / "tiny.npz", rgb=False, labels_2d=False, n=(56, 12, 16))
    data = MedMNIST(path=str(path)).build(BIG, seed=0)
    sizes = {s: len(data[s]) for s in ("seed", "pool", "reference")}
    assert sum(sizes.values()) == 56
    assert sizes == {"seed": 4, "pool": 40, "reference": 12}
    assert len(data["val"]) == 12 and len(data["test_id"]) == len(data["test_shift"]) == 16


@pytest.mark.parametrize("kind", SHIFTS)
def test_every_shift_changes_images_and_keeps_range(kind) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.1, 0.9, (4, 3, 28, 28)).astype(np.float32)
    out = apply_shift(x, kind, 1.0, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and not np.allclose(out, x)
    np.testing.assert_allclose(apply_shift(x, kind, 0.0, np.random.default_rng(1)), x, atol=1e-5)


def test_missing_file_says_where_and_how(tmp_path) -> None:
    with pytest.raises(SourceDataMissing, match=r"nope\.npz: MedMNIST file not found.*medmnist"):
        MedMNIST(path=str(tmp_path / "nope.npz")).build(SIZES, seed=0)


@pytest.mark.parametrize("broken, message", [
    ({"drop": "val_labels"}, r"arrays \['val_labels'\] missing"),
    ({"labels": np.zeros((16, 3), np.uint8)}, r"test_labels has shape \(16, 3\).*multi-label"),
    ({"images": np.zeros((16, 28, 28, 28), np.uint8)}, r"test_images has shape.*3-D"),
])
def test_bad_files_name_the_file_and_the_array(tmp_path, broken, message) -> None:
    path = write_medmnist(tmp_path / "tiny.npz", rgb=False, labels_2d=False)
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays.pop(broken.get("drop", ""), None)
    for key in ("labels", "images"):
        if key in broken:
            arrays[f"test_{key}"] = broken[key]
    np.savez(path, **arrays)
    with pytest.raises(DataFormatError, match=f"tiny.npz: {message}"):
        MedMNIST(path=str(path)).build(SIZES, seed=0)


def test_never_unpickles(tmp_path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, train_images=np.array([object()], dtype=object))
    with pytest.raises(DataFormatError, match="evil.npz: not a readable MedMNIST"):
        MedMNIST(path=str(path)).build(SIZES, seed=0)


def test_options_are_checked(tmp_path) -> None:
    path = str(write_medmnist(tmp_path / "tiny.npz", rgb=False, labels_2d=False, n_classes=3))
    with pytest.raises(ValueError, match="option shift: got 'fog'"):
        MedMNIST(path=path, shift="fog").build(SIZES, seed=0)
    with pytest.raises(DataFormatError, match="labels go up to 2 but option class_names has 2"):
        MedMNIST(path=path, class_names=["a", "b"]).build(SIZES, seed=0)


def test_reads_the_real_breastmnist() -> None:
    path = real_path("breastmnist.npz")
    data = MedMNIST(path=str(path), class_names=["malignant", "normal_or_benign"]).build(BIG, 0)
    check_splits(data, BIG)
    assert data.input_shape == (1, 28, 28) and data.n_classes == 2
    assert sum(len(data[s]) for s in ("seed", "pool", "reference")) == 546
    assert (len(data["val"]), len(data["test_id"]), len(data["test_shift"])) == (78, 156, 156)
    with np.load(path, allow_pickle=False) as npz:
        labels, images = npz["test_labels"].reshape(-1), npz["test_images"]
    index = data["test_id"].meta["index"]
    np.testing.assert_array_equal(data["test_id"].y, labels[index])
    np.testing.assert_allclose(data["test_id"].x[:, 0], images[index] / 255.0, atol=1e-6)
    assert data.info["rare_pattern"] in data.pattern_names
