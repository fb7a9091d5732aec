"""The Hopper fall-prediction source: determinism, data model, shift physics and rare patterns."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data import SPLITS, DomainData
from benchmark.domain import DOMAINS
from domains.robotics import HopperFalls, Physics, _balance_action, _Robot

TINY = {"seed": 40, "pool": 160, "val": 30, "test_id": 40, "test_shift": 40, "reference": 30}
META = ("pattern", "payload", "gravity", "slope", "friction", "episode", "t")
LOAD_FORWARD, LOAD_NORMAL = 25, 26  # the foot load cell's columns, after obs, its change, action


@pytest.fixture(scope="module")
def data() -> DomainData:
    return HopperFalls().build(TINY, seed=3)


def test_registered() -> None:
    assert DOMAINS.get("hopper") is HopperFalls


def test_same_seed_same_arrays(data: DomainData) -> None:
    again = HopperFalls().build(TINY, seed=3)
    for name in SPLITS:
        a, b = data[name], again[name]
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.y, b.y)
        for key in META:
            np.testing.assert_array_equal(a.meta[key], b.meta[key])


def test_other_seed_other_arrays(data: DomainData) -> None:
    other = HopperFalls().build(TINY, seed=4)
    assert not np.array_equal(data["seed"].x, other["seed"].x)


def test_shapes_and_dtypes(data: DomainData) -> None:
    assert data.modality == "tabular"
    assert data.class_names == ["stable", "falls"]
    assert data.pattern_names == [f"{p}/{c}" for p in data.group_names for c in data.class_names]
    for name in SPLITS:
        split = data[name]
        assert len(split) == TINY[name]
        assert split.x.dtype == np.float32 and split.x.shape == (TINY[name], 27)
        assert np.isfinite(split.x).all()
        assert set(np.unique(split.y)) <= {0, 1}
        assert set(np.unique(split.group)) <= set(range(len(data.group_names)))
        assert set(split.meta) == set(META)
        assert all(np.issubdtype(v.dtype, np.number) for v in split.meta.values())
        np.testing.assert_array_equal(split.meta["payload"], split.group)
        np.testing.assert_array_equal(split.meta["pattern"], 2 * split.group + split.y)


def test_shift_physics_only_in_test_shift(data: DomainData) -> None:
    source = HopperFalls()
    shifted = data["test_shift"].meta
    assert (shifted["slope"] == source.shift_slope).all()
    assert (shifted["friction"] == source.shift_friction).all()
    assert (shifted["gravity"] == source.shift_gravity).all()
    for name in set(SPLITS) - {"test_shift"}:
        meta = data[name].meta
        assert (meta["slope"] == 0).all() and (meta["friction"] == 1).all()
        assert (meta["gravity"] == 1).all()
    assert data.info["shift"]["slope_deg"] == source.shift_slope


def test_world_physics_sets_every_split_but_test_shift() -> None:
    """Another physics for the splits a transfer domain learns on; the shift stays the ramp."""
    heavy = HopperFalls(gravity=1.25, friction=0.8).build(TINY, seed=3)
    for name in set(SPLITS) - {"test_shift"}:
        meta = heavy[name].meta
        assert (meta["gravity"] == 1.25).all() and (meta["friction"] == 0.8).all()
    assert (heavy["test_shift"].meta["slope"] == HopperFalls().shift_slope).all()
    assert heavy.info["world"] == {"slope_deg": 0.0, "gravity": 1.25, "friction": 0.8}


def test_splits_share_no_episode(data: DomainData) -> None:
    episodes = [set(data[name].meta["episode"].tolist()) for name in SPLITS]
    for i, first in enumerate(episodes):
        for second in episodes[i + 1:]:
            assert not first & second
    rows = {row.tobytes() for row in data["seed"].x}
    assert not rows & {row.tobytes() for row in data["test_id"].x}


def test_rare_patterns_rarer_in_seed_than_pool() -> None:
    source = HopperFalls(payload_probs=(0.34, 0.33, 0.33), rare_keep=0.1)
    sizes = {**TINY, "seed": 60, "pool": 300}
    built = source.build(sizes, seed=0)
    rare = [built.pattern_names.index(name) for name in source.rare_patterns]
    share = {s: np.isin(built[s].meta["pattern"], rare).mean() for s in ("seed", "pool")}
    assert share["pool"] > 0
    assert share["seed"] < 0.5 * share["pool"]


def test_foot_load_reads_the_robot_weight() -> None:
    """A balancing robot's foot carries its weight, so the load cell weighs the payload."""
    robot = _Robot("Hopper-v5", reset_noise=0.1)
    try:
        readings = {}
        for scale in (1.0, 2.2):
            robot.configure(scale, Physics())
            obs, loads = robot.reset(0), []
            for _ in range(40):
                obs, fell = robot.step(np.clip(0.1 * _balance_action(obs), -1.0, 1.0))
                loads.append(robot.foot_load())
            assert not fell
            weight = robot.env.model.body_mass.sum() * 9.81
            readings[scale] = np.mean(loads, axis=0)
            assert readings[scale][1] == pytest.approx(weight, rel=0.05)
    finally:
        robot.close()
    assert readings[2.2][1] > 1.2 * readings[1.0][1]


def test_foot_load_makes_the_payload_visible(data: DomainData) -> None:
    """At a given motion (a linear fit on the other features) the normal load grows with payload.

    Without the load columns nothing in the items tells the payload apart (issue 9's ceiling).
    """
    assert "foot load" in data.info["features"]
    x = np.concatenate([data[s].x for s in ("seed", "pool")])
    payload = np.concatenate([data[s].group for s in ("seed", "pool")])
    motion = np.column_stack([x[:, :LOAD_FORWARD], np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(motion, x[:, LOAD_NORMAL], rcond=None)
    residual = x[:, LOAD_NORMAL] - motion @ coef
    means = [residual[payload == p].mean() for p in range(len(data.group_names))]
    assert means == sorted(means)
    assert means[-1] - means[0] > residual.std()


def test_foot_load_feels_the_ramp(data: DomainData) -> None:
    """On the ramp friction holds the foot against the slope: a backward load, unlike the flat."""
    flat = np.concatenate([data[s].x[:, LOAD_FORWARD] for s in ("seed", "pool")])
    assert data["test_shift"].x[:, LOAD_FORWARD].mean() < flat.mean() - 0.5


def test_rejects_robot_without_hopper_layout() -> None:
    with pytest.raises(ValueError, match="Hopper"):
        HopperFalls(env_id="InvertedPendulum-v5").build(TINY, seed=0)
