"""Real robotics data: measured runs of a Schunk 6-DoF robot arm.

A held-out command profile is the shift. Data card: :class:`RobotArm`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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

CLASS_NAMES: list[str] = ["steady", "torque_spike"]
GROUP_NAMES: list[str] = ["slow", "fast"]
N_STATES, N_INPUTS = 12, 6
_RUN = re.compile(r"measurement_(\d+)$")
_HOW = ("get the Schunk arm measurements of Liu & Althoff, IROS 2018 (CC0, 'measurement_K/"
        "{trajectory,input,time}.csv' folders) and set domains.<domain>.options.robot_arm.path "
        "(see raw/README.md)")


@dataclass
class Run:
    """One measured run: states (T, 12), torques (T, 6), time stamps (T,), and its number."""

    number: int
    states: np.ndarray
    torques: np.ndarray
    time: np.ndarray


@dataclass
class Items:
    """Windows cut from the runs, one row per item."""

    x: np.ndarray  # (n, 18, window): states then torques
    jump: np.ndarray  # (n, 6): largest torque change per joint over the next horizon
    run: np.ndarray
    profile: np.ndarray
    step: np.ndarray


@DOMAINS.register("robot_arm")
class RobotArm(Domain):
    """Will the arm's commanded torque spike within the next ``horizon`` steps?

    Provenance: S. Liu and M. Althoff, "Reachset conformance of forward dynamic models for the
    formal analysis of robots", IROS 2018: 100 measured runs of a Schunk 6-DoF arm,
    ``measurement_K/trajectory.csv`` (12 states: 6 joint angles in rad, 6 joint velocities in
    rad/s), ``input.csv`` (6 motor torques, one row fewer) and ``time.csv`` (dt = 0.004 s), all
    headerless. Licence: CC0 1.0. The runs replay a few commanded torque profiles (the
    published set: 6 profiles, 7 to 20 repeats each); profiles are found by matching the
    ``input.csv`` signals (same length, equal within ``1e-6`` of the signal scale) and numbered
    in order of their first run (published set: runs 1-20, 21-40, 41-60, 61-79, 80-93, 94-100).

    Items: a window of ``window`` steps (0.096 s at 24) ending at step ``t``, every ``stride``
    steps of every run; ``x`` (sequence, float32 (18, window)): the 12 states and 6 torques,
    standardised per channel with training statistics. Classes: ``torque_spike`` if within the
    next ``horizon`` steps some joint's torque moves away from its last value by more than the
    ``event_quantile`` quantile (training part) of that largest change, measured in per-joint
    training standard deviations; else ``steady``. Group: ``slow`` / ``fast`` = mean normalised
    joint speed in the window below / above the training median.

    Shift: ``test_shift`` holds only windows of ``shift_profile``'s runs, a command profile no
    other split contains (profile 2 replays the second half of profile 0's commands from a
    different start pose, so the torques look familiar but the states do not: a linear probe
    drops from 0.85 to 0.63; holding out profile 4 or 5 gives no drop, since their torques seldom
    jump by the training threshold and ``steady`` is right 93% of the time). The other splits
    are carved from the remaining runs' windows (repeats of one profile are near-identical, so
    items are not kept apart by run). Rare pattern: the rarest class/group pattern of the
    training part keeps only ``rare_keep`` of its share in ``seed``. ``meta``: pattern, run,
    profile, step.
    """

    modality = "sequence"

    def __init__(self, path: str = "raw/robot_arm_schunk", window: int = 24, horizon: int = 25,
                 stride: int = 10, shift_profile: int = 2, event_quantile: float = 0.8,
                 rare_keep: float = 0.25) -> None:
        self.path = path
        self.window = window
        self.horizon = horizon
        self.stride = stride
        self.shift_profile = shift_profile
        self.event_quantile = event_quantile
        self.rare_keep = rare_keep

    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """Cut windows, hold out the shift profile, carve, then label and scale from training."""
        self._check_options()
        runs = load_runs(self.path)
        profiles = match_profiles([r.torques for r in runs])
        if self.shift_profile > profiles.max():
            raise OptionError("shift_profile", f"got {self.shift_profile}, but {self.path} "
                              f"holds profiles 0..{profiles.max()}")
        items = cut(runs, profiles, self.window, self.horizon, self.stride, str(self.path))
        rng = np.random.default_rng(seed)
        ident = np.flatnonzero(items.profile != self.shift_profile)
        shift_items = np.flatnonzero(items.profile == self.shift_profile)
        held, train, counts = hold_out(len(ident), sizes, rng, str(self.path))
        y, group, stats = self._label(items, ident[train])
        pattern = patterns(y, group, len(GROUP_NAMES))
        weights, rare = rare_weights(pattern[ident[train]], self.rare_keep)
        index = {**held, **carve_training(train, counts, weights, rng)}
        index = {name: ident[rows] for name, rows in index.items()}
        index["test_shift"] = shift_items[subsample(len(shift_items), sizes["test_shift"], rng)]
        mean, std = fit_scaler(items.x[ident[train]], axis=(0, 2))
        x = (items.x - mean) / std
        splits = {name: Split(x[i], y[i], group[i], {
            "pattern": pattern[i], "run": items.run[i], "profile": items.profile[i],
            "step": items.step[i]}) for name, i in index.items()}
        names = pattern_names(CLASS_NAMES, GROUP_NAMES)
        info = {"folder": str(self.path), "runs": len(runs),
                "profiles": int(profiles.max()) + 1, "shift_profile": self.shift_profile,
                "dt": float(np.median(np.diff(runs[0].time))), **stats,
                "rare_pattern": names[rare], "rare_keep": self.rare_keep, "licence": "CC0 1.0"}
        return DomainData("robot_arm", self.modality, list(CLASS_NAMES), list(GROUP_NAMES),
                          splits, names, info)

    def _check_options(self) -> None:
        for key in ("window", "horizon", "stride"):
            if getattr(self, key) < 1:
                raise OptionError(key, f"got {getattr(self, key)!r}, expected >= 1 step")
        if self.shift_profile < 0:
            raise OptionError("shift_profile", f"got {self.shift_profile}, expected >= 0")
        check_fraction(self.event_quantile, "event_quantile", low_open=False)
        check_fraction(self.rare_keep, "rare_keep")

    def _label(self, items: Items, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Labels and groups, with thresholds fitted on the training items ``train``."""
        torque_sd = items.x[train, N_STATES:].std(axis=(0, 2))
        spike = (items.jump / np.where(torque_sd > 1e-8, torque_sd, 1.0)).max(axis=1)
        threshold = float(np.quantile(spike[train], self.event_quantile))
        speed_sd = items.x[train, N_STATES // 2:N_STATES].std(axis=(0, 2))
        velocity = items.x[:, N_STATES // 2:N_STATES] / np.where(speed_sd > 1e-8, speed_sd, 1.0)[
            None, :, None]
        speed = np.linalg.norm(velocity, axis=1).mean(axis=1)
        speed_median = float(np.median(speed[train]))
        y = (spike > threshold).astype(np.int64)
        group = (speed > speed_median).astype(np.int64)
        return y, group, {"spike_threshold_sd": threshold, "speed_median": speed_median}


def load_runs(folder: str | Path) -> list[Run]:
    """Every ``measurement_K`` run under ``folder``, ordered by ``K``."""
    folder = require(folder, "robot-arm measurement folder", _HOW)
    found = sorted((int(m.group(1)), p) for p in folder.iterdir()
                   if p.is_dir() and (m := _RUN.match(p.name)))
    if not found:
        raise DataFormatError(f"{folder}: no measurement_K folders; expected measurement_1/"
                              "{trajectory,input,time}.csv, ...")
    return [_read_run(number, path) for number, path in found]


def _read_run(number: int, path: Path) -> Run:
    """One run, checked, with states and time stamps cut to the torque rows.

    Expects 12 state columns, 6 torque columns and at least as many states as torques.
    """
    states = _csv(path / "trajectory.csv", N_STATES)
    torques = _csv(path / "input.csv", N_INPUTS)
    time = _csv(path / "time.csv", 1)[:, 0]
    n = len(torques)
    if len(states) < n or len(time) < n:
        raise DataFormatError(f"{path}: {len(torques)} torque rows but only {len(states)} state "
                              f"rows and {len(time)} time stamps; expected at least as many")
    return Run(number, states[:n], torques, time[:n])


def _csv(path: Path, columns: int) -> np.ndarray:
    """A headerless numeric CSV with ``columns`` columns."""
    require(path, "robot-arm run file", _HOW)
    try:
        table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as err:
        raise DataFormatError(f"{path}: not a headerless numeric CSV ({err})") from None
    if table.shape[1] != columns or not np.isfinite(table).all():
        raise DataFormatError(f"{path}: shape {table.shape}; expected {columns} finite columns")
    return table


def match_profiles(torques: list[np.ndarray], rtol: float = 1e-6) -> np.ndarray:
    """Profile number per run, numbered by first appearance.

    Runs whose commanded torques are equal (same length, within ``rtol`` of the signal scale)
    replay one profile.
    """
    templates: list[np.ndarray] = []
    out = np.empty(len(torques), dtype=np.int64)
    for k, u in enumerate(torques):
        tol = rtol * max(1.0, float(np.abs(u).max(initial=0.0)))
        same = [j for j, t in enumerate(templates)
                if t.shape == u.shape and np.abs(t - u).max(initial=0.0) <= tol]
        if not same:
            templates.append(u)
        out[k] = same[0] if same else len(templates) - 1
    return out


def cut(runs: list[Run], profiles: np.ndarray, window: int, horizon: int, stride: int,
        where: str) -> Items:
    """All windows with a full past and a full horizon, every ``stride`` steps."""
    parts = []
    for run, profile in zip(runs, profiles, strict=True):
        steps = np.arange(window, len(run.torques) - horizon + 1, stride)
        if not len(steps):
            continue
        signal = np.concatenate([run.states, run.torques], axis=1)
        x = np.stack([signal[t - window:t].T for t in steps])
        jump = np.stack([np.abs(run.torques[t:t + horizon] - run.torques[t - 1]).max(axis=0)
                         for t in steps])
        parts.append((x, jump, np.full(len(steps), run.number), np.full(len(steps), profile),
                      steps))
    if not parts:
        raise DataFormatError(f"{where}: every run is shorter than window + horizon = "
                              f"{window + horizon} steps")
    return Items(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))
