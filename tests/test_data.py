import numpy as np
import pytest

from benchmark.data import DataFormatError, Split, load_domain, load_split, save_domain


def test_round_trip_keeps_every_column(tmp_path, toy_domain) -> None:
    toy_domain.splits["pool"].meta["site"] = np.array(["a", "b"] * 20)
    save_domain(toy_domain, tmp_path)
    back = load_domain(tmp_path)
    for name, split in toy_domain.splits.items():
        got = back[name]
        np.testing.assert_array_equal(got.x, split.x)
        np.testing.assert_array_equal(got.y, split.y)
        np.testing.assert_array_equal(got.group, split.group)
        assert set(got.meta) == set(split.meta)
    assert back.class_names == toy_domain.class_names and back.modality == "tabular"
    assert list(back["pool"].meta["site"][:2]) == ["a", "b"]


def test_partial_load_reads_only_requested_splits(tmp_path, toy_domain) -> None:
    save_domain(toy_domain, tmp_path)
    (tmp_path / "test_shift.npz").unlink()
    part = load_domain(tmp_path, splits=("seed", "pool"))
    assert set(part.splits) == {"seed", "pool"}


def test_missing_card_names_the_path(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="domain.json"):
        load_domain(tmp_path)


def test_split_file_without_labels_is_rejected(tmp_path) -> None:
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 3)), group=np.zeros(2))
    with pytest.raises(DataFormatError, match=r"bad.npz: array 'y' missing"):
        load_split(tmp_path / "bad.npz")


def test_object_meta_is_rejected_instead_of_pickled(tmp_path, toy_domain) -> None:
    toy_domain.splits["seed"].meta["bad"] = np.array([{"a": 1}] * 40, dtype=object)
    with pytest.raises(DataFormatError, match="bad"):
        save_domain(toy_domain, tmp_path)


def test_split_columns_must_align() -> None:
    with pytest.raises(DataFormatError, match="'y' has 2 rows, x has 3"):
        Split(np.zeros((3, 2)), np.zeros(2), np.zeros(3))


def test_atomic_writes_are_readable_by_others_and_strays_are_swept(tmp_path) -> None:
    import os
    import stat

    from benchmark.io import atomic_write_text, sweep_temp_files

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == 0o644
    (tmp_path / ".state.npz.abc123.tmp").write_bytes(b"half")
    assert sweep_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    # in a shared folder, a cell sweeps only its own file's temp files
    for name in ("adaptive-seed0.csv", "random-seed0.csv"):
        (tmp_path / f".{name}.x1.tmp").write_bytes(b"half")
    assert sweep_temp_files(tmp_path, "random-seed0.csv") == 1
    assert (tmp_path / ".adaptive-seed0.csv.x1.tmp").is_file()


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 truncated zip"])
def test_every_reader_names_a_damaged_file_and_its_rebuild(tmp_path, content) -> None:
    from benchmark.io import read_json, read_npz, read_weights

    path = tmp_path / "out.bin"
    path.write_bytes(content)
    for read in (read_json, read_npz, read_weights):
        with pytest.raises(DataFormatError, match=r"out\.bin: .*; rebuild it with `dvc repro x`"):
            read(path, rebuild="dvc repro x")
    with pytest.raises(FileNotFoundError, match=r"gone\.npz: not found; rebuild it with"):
        read_npz(tmp_path / "gone.npz", rebuild="dvc repro x")
    np.savez(tmp_path / "a.npz", seed=np.zeros(2))
    with pytest.raises(DataFormatError, match=r"a\.npz: array 'pool' missing \(has \['seed'\]\)"):
        read_npz(tmp_path / "a.npz", ["seed", "pool"])
    assert read_npz(tmp_path / "a.npz", ["seed"])["seed"].shape == (2,)


def test_a_damaged_resume_state_is_rebuilt_from_the_ledger(tmp_path, capsys) -> None:
    from benchmark.construction.loop import load_state

    path = tmp_path / "state.npz"
    path.write_bytes(b"garbage")
    assert load_state(path, "fp") is None
    assert "state.npz: unreadable resume state" in capsys.readouterr().err
