"""The robot-arm source on tiny per-run CSV folders, and on the real measurements."""

import numpy as np
import pytest

from benchmark.data import DataFormatError
from domains.realdata import SourceDataMissing
from domains.robot_arm import N_STATES, RobotArm, load_runs, match_profiles
from tests.domains.tiny import BIG, check_splits, real_path, write_robot_runs

SIZES = {"seed": 10, "pool": 40, "val": 10, "test_id": 20, "test_shift": 20, "reference": 10}


@pytest.fixture
def folder(tmp_path):
    return write_robot_runs(tmp_path / "arm")


def test_profiles_are_matched_from_the_commands(folder) -> None:
    runs = load_runs(folder)
    assert [r.number for r in runs] == list(range(1, 9))
    assert match_profiles([r.torques for r in runs]).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    same_length = [np.zeros((5, 6)), np.ones((5, 6)), np.zeros((5, 6))]
    assert match_profiles(same_length).tolist() == [0, 1, 0]


def test_runs_are_ordered_by_number_not_name(tmp_path) -> None:
    folder = write_robot_runs(tmp_path / "arm", profiles=(0,) * 11, steps=(80,))
    assert [r.number for r in load_runs(folder)] == list(range(1, 12))


def test_held_out_profile_is_only_in_test_shift(folder) -> None:
    data = RobotArm(path=str(folder), shift_profile=1, window=10, horizon=10,
                    stride=5).build(SIZES, seed=0)
    check_splits(data, SIZES)
    assert data.input_shape == (N_STATES + 6, 10)
    assert (data["test_shift"].meta["profile"] == 1).all()
    for name in ("seed", "pool", "val", "test_id", "reference"):
        assert (data[name].meta["profile"] != 1).all(), name


def test_label_is_a_torque_spike_in_the_next_horizon(folder) -> None:
    window, horizon = 10, 8
    data = RobotArm(path=str(folder), window=window, horizon=horizon, stride=5,
                    event_quantile=0.7).build(BIG, seed=0)
    runs = {r.number: r for r in load_runs(folder)}
    split = data["pool"]
    scale = data.info["spike_threshold_sd"]
    jumps = []
    for run, step in zip(split.meta["run"], split.meta["step"], strict=True):
        u = runs[run].torques
        jumps.append(np.abs(u[step:step + horizon] - u[step - 1]).max(axis=0))
    jumps = np.array(jumps)
    positives, negatives = jumps[split.y == 1], jumps[split.y == 0]
    assert len(positives) and len(negatives) and scale > 0
    assert positives.max(axis=1).mean() > negatives.max(axis=1).mean()
    assert 0.1 < np.concatenate([data[s].y for s in ("seed", "pool", "reference")]).mean() < 0.5


def test_missing_folder_and_bad_files(tmp_path, folder) -> None:
    with pytest.raises(SourceDataMissing, match="nope: robot-arm measurement folder not found"):
        RobotArm(path=str(tmp_path / "nope")).build(SIZES, seed=0)
    bad = folder / "measurement_2" / "input.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DataFormatError, match=r"measurement_2/input.csv: shape \(2, 3\); "
                                              r"expected 6 finite columns"):
        RobotArm(path=str(folder)).build(SIZES, seed=0)


def test_shift_profile_must_exist(folder) -> None:
    with pytest.raises(ValueError, match="option shift_profile: got 7, but .* profiles 0..2"):
        RobotArm(path=str(folder), shift_profile=7).build(SIZES, seed=0)


def test_reads_the_real_runs() -> None:
    folder = real_path("robot_arm_schunk")
    runs = load_runs(folder)
    assert len(runs) == 100 and all(r.states.shape[1] == 12 for r in runs)
    profiles = match_profiles([r.torques for r in runs])
    assert np.bincount(profiles).tolist() == [20, 20, 20, 19, 14, 7]
    data = RobotArm(path=str(folder)).build(BIG, seed=0)
    check_splits(data, BIG)
    assert data.info["dt"] == pytest.approx(0.004)
    assert (data["test_shift"].meta["profile"] == 2).all()
    assert {len(data[s]) for s in ("seed", "pool", "test_shift")} == {200, 2000, 600}
