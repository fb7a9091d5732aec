"""Robotics default source: fall prediction for a MuJoCo Hopper carrying a payload.

The robot model ships with ``gymnasium``, so the source runs offline. The distribution shift is a
change of physics (a ramp instead of a flat floor) that flat-floor data never shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from benchmark.data import SPLITS, DomainData, Split
from benchmark.domain import DOMAINS, Domain

CLASS_NAMES = ["stable", "falls"]
PAYLOAD_NAMES = ["light", "medium", "heavy"]
_OBS_DIM, _ACT_DIM = 11, 3
_LOAD_AXES = (3, 5)  # force x (forward) and z (normal) of MuJoCo's cfrc_ext = (torque, force)
_EARTH_G = 9.81
_EPISODE_STRIDE = 1_000_000  # episode ids of split i start at i * stride, so ids never collide


@dataclass(frozen=True)
class Physics:
    """The world one split is simulated in, relative to the shipped Hopper model."""

    gravity: float = 1.0  # scale of |g|
    slope: float = 0.0  # floor incline in degrees (the gravity vector tilts forward)
    friction: float = 1.0  # scale of the sliding friction of every geom


@dataclass
class _Items:
    """Candidate items of one split before standardisation, one row per item."""

    x: np.ndarray
    y: np.ndarray
    payload: np.ndarray
    episode: np.ndarray
    t: np.ndarray

    def take(self, index: np.ndarray) -> _Items:
        return _Items(*(col[index] for col in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return self.x, self.y, self.payload, self.episode, self.t

    @staticmethod
    def concat(parts: list[_Items]) -> _Items:
        columns = zip(*(p._columns() for p in parts), strict=True)
        return _Items(*(np.concatenate(col) for col in columns))


class _Robot:
    """The Hopper simulation with the knobs the domain turns: payload, gravity, slope, friction."""

    def __init__(self, env_id: str, reset_noise: float) -> None:
        self.env = gym.make(env_id, reset_noise_scale=reset_noise).unwrapped
        if (self.env.observation_space.shape != (_OBS_DIM,)
                or self.env.action_space.shape != (_ACT_DIM,)):
            self.env.close()
            raise ValueError(f"{env_id!r} lacks the Hopper's observation/action layout")
        model = self.env.model
        self._torso = model.body("torso").id
        self._torso_mass = float(model.body_mass[self._torso])
        self._foot = model.body("foot").id
        self._friction = model.geom_friction[:, 0].copy()

    def configure(self, payload_scale: float, physics: Physics) -> None:
        """Set the model in place; MuJoCo keeps these across ``reset()``."""
        model = self.env.model
        model.body_mass[self._torso] = self._torso_mass * payload_scale
        slope = np.deg2rad(physics.slope)
        model.opt.gravity[:] = _EARTH_G * physics.gravity * np.array(
            [np.sin(slope), 0.0, -np.cos(slope)])
        model.geom_friction[:, 0] = self._friction * physics.friction

    def reset(self, seed: int) -> np.ndarray:
        return self.env.reset(seed=seed)[0]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, bool]:
        """Advance one control step (skipping reward bookkeeping); True once unhealthy."""
        self.env.do_simulation(action, self.env.frame_skip)
        return self.env._get_obs(), not self.env.is_healthy

    def foot_load(self) -> np.ndarray:
        """What a load cell in the foot reads now: the ground's force on it (N; forward, normal).

        ``do_simulation`` ends with ``mj_rnePostConstraint``, so ``cfrc_ext`` holds the contact
        force of the last physics step. Its world axes are the floor's, also on the ramp (there
        gravity tilts, the floor does not).
        """
        return self.env.data.cfrc_ext[self._foot, list(_LOAD_AXES)].copy()

    def close(self) -> None:
        self.env.close()


@DOMAINS.register("hopper")
class HopperFalls(Domain):
    """Will the hopper fall within the next ``horizon`` control steps?

    Generative story: a one-legged MuJoCo Hopper (``gymnasium`` ``Hopper-v5``, 125 Hz control)
    is released from a randomly perturbed pose and tries to stand still under a compliant PD
    balance controller. Its stiffness (``gain_range``) and actuator noise (``noise_range``) are
    drawn per episode, so some episodes topple within half a second and others balance until
    ``max_steps``. Each episode carries a payload strapped to the torso (torso mass x
    ``payload_scales``), which raises the centre of mass and makes falls somewhat likelier.

    Items: a trajectory segment ending at step ``t``: the observation at ``t`` (torso height and
    angle, joint angles, velocities), its change over the last ``lag`` steps, the last (noisy)
    action and the foot's load cell (the ground's forward and normal force on the foot, N)
    averaged over those ``lag`` steps, standardised with seed + pool statistics (D = 27).
    Segments are sub-sampled from each episode (at most ``items_per_episode``).

    Classes: ``stable`` / ``falls`` = the episode terminates as unhealthy (torso below 0.7 m or
    tilted past 0.2 rad) within the next ``horizon`` steps. Groups: payload ``light`` /
    ``medium`` / ``heavy``; ``heavy`` is the rarest payload everywhere (``payload_probs``).

    Shift: ``test_shift`` episodes stand on a ramp facing downhill: the floor is inclined by
    ``shift_slope`` degrees (the gravity vector is tilted towards the robot's front, so every
    observation stays in the floor's frame). The controller keeps the torso square to the floor,
    i.e. leaning downhill, so the robot topples from poses that are safe on the flat floor the
    other splits use (the fall rate roughly doubles, ~0.4 -> ~0.75 with the defaults) and the
    fall boundary learned on the flat floor is wrong. ``shift_gravity`` and
    ``shift_friction`` (scales, 1 = unchanged) can make it a heavier planet or an icy ramp.
    ``gravity``, ``slope`` and ``friction`` set the world of every other split (default: the
    shipped model on a flat floor), e.g. another physics for a transfer domain to learn in.

    Rare patterns: ``pattern`` is payload x label (``light/stable`` ... ``heavy/falls``); the
    ``rare_patterns`` keep only ``rare_keep`` of their natural share in ``seed``, while pool, val,
    test and reference follow the natural distribution. The small seed is drawn from
    ``seed_spread`` times more candidate segments, so it spans many episodes.

    Ceiling (how visible the patterns are at all: a 200-tree random forest trained on the pool's
    pattern labels, scored on val; default source, seed 0, pool 2000, val 300): the foot load was
    added because without it the payload barely shows in the pose and velocities (pattern 0.33,
    payload 0.34, where the largest val share is 0.24 and 0.44); with it pattern 0.63 and payload
    0.70 (``heavy/falls`` recall 0 -> 0.5), the label 0.91-0.94 either way.
    """

    modality = "tabular"
    simulated = True

    def __init__(
        self,
        env_id: str = "Hopper-v5",
        horizon: int = 40,
        lag: int = 4,
        max_steps: int = 120,
        items_per_episode: int = 8,
        payload_scales: Sequence[float] = (1.0, 1.6, 2.2),
        payload_probs: Sequence[float] = (0.45, 0.4, 0.15),
        gain_range: Sequence[float] = (0.03, 0.15),
        noise_range: Sequence[float] = (0.02, 0.1),
        reset_noise: float = 0.1,
        shift_slope: float = 20.0,
        shift_gravity: float = 1.0,
        shift_friction: float = 1.0,
        gravity: float = 1.0,
        slope: float = 0.0,
        friction: float = 1.0,
        rare_patterns: Sequence[str] = ("heavy/falls",),
        rare_keep: float = 0.15,
        seed_spread: float = 3.0,
    ) -> None:
        self.env_id = env_id
        self.horizon = horizon
        self.lag = lag
        self.max_steps = max_steps
        self.items_per_episode = items_per_episode
        self.payload_scales = payload_scales
        self.payload_probs = payload_probs
        self.gain_range = gain_range
        self.noise_range = noise_range
        self.reset_noise = reset_noise
        self.shift_slope = shift_slope
        self.shift_gravity = shift_gravity
        self.world = Physics(gravity, slope, friction)
        self.shift_friction = shift_friction
        self.rare_patterns = rare_patterns
        self.rare_keep = rare_keep
        self.seed_spread = seed_spread

    @property
    def pattern_names(self) -> list[str]:
        """One ground-truth pattern per (payload, label), indexed by ``meta["pattern"]``."""
        return [f"{p}/{c}" for p in self._payload_names for c in CLASS_NAMES]

    @property
    def _payload_names(self) -> list[str]:
        return PAYLOAD_NAMES[: len(self.payload_scales)]

    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """Roll out fresh episodes per split from disjoint seed streams, so no split shares one."""
        streams = np.random.SeedSequence(seed).spawn(len(SPLITS))
        rngs = [np.random.default_rng(stream) for stream in streams]
        robot = _Robot(self.env_id, self.reset_noise)
        try:
            raw = {split: self._draw_split(robot, split, int(sizes[split]), rng)
                   for split, rng in zip(SPLITS, rngs, strict=True)}
        finally:
            robot.close()
        train_x = np.concatenate([raw["seed"].x, raw["pool"].x])
        mean, std = train_x.mean(axis=0), np.maximum(train_x.std(axis=0), 1e-6)
        splits = {name: self._to_split(items, self._physics(name), mean, std)
                  for name, items in raw.items()}
        return DomainData(
            name="hopper", modality=self.modality, class_names=list(CLASS_NAMES),
            group_names=self._payload_names, splits=splits, pattern_names=self.pattern_names,
            info=self._info(),
        )

    def _physics(self, split: str) -> Physics:
        if split == "test_shift":
            return Physics(self.shift_gravity, self.shift_slope, self.shift_friction)
        return self.world

    def _info(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id, "horizon_steps": self.horizon, "lag_steps": self.lag,
            "max_steps": self.max_steps, "payload_scales": list(self.payload_scales),
            "payload_probs": list(self.payload_probs), "gain_range": list(self.gain_range),
            "noise_range": list(self.noise_range), "reset_noise": self.reset_noise,
            "world": {"slope_deg": self.world.slope, "gravity": self.world.gravity,
                      "friction": self.world.friction},
            "shift": {"slope_deg": self.shift_slope, "gravity": self.shift_gravity,
                      "friction": self.shift_friction},
            "rare_patterns": list(self.rare_patterns), "rare_keep": self.rare_keep,
            "features": "obs[t] (11), obs[t] - obs[t-lag] (11), action[t-1] (3), foot load "
                        "(forward, normal; N) averaged over steps t-lag+1..t (2)",
            "label": "falls = Hopper's unhealthy termination (z < 0.7 m or |torso angle| > "
                     "0.2 rad) within horizon_steps control steps of 8 ms",
        }

    def _pattern_weights(self, split: str) -> np.ndarray:
        weights = np.ones(len(self.pattern_names))
        if split == "seed":
            for name in self.rare_patterns:
                weights[self.pattern_names.index(name)] = self.rare_keep
        return weights

    def _draw_split(self, robot: _Robot, split: str, n: int, rng: np.random.Generator) -> _Items:
        """``n`` items with the natural pattern mix, down-weighted rare patterns in ``seed``."""
        weights = self._pattern_weights(split)
        supply = n * (self.seed_spread if split == "seed" else 1.0)
        episode = SPLITS.index(split) * _EPISODE_STRIDE
        parts: list[_Items] = []
        counts = np.zeros(len(weights), dtype=np.int64)
        while not counts.any() or (weights * counts).sum() / weights[counts > 0].max() < supply:
            chunk = max(int(supply) // 2, 8)
            part = self._simulate(robot, self._physics(split), rng, chunk, episode)
            parts.append(part)
            counts += np.bincount(self._pattern(part), minlength=len(weights))
            episode = int(part.episode[-1]) + 1
        items = _Items.concat(parts)
        pattern = self._pattern(items)
        quotas = _quotas(weights * counts, n)
        index = [rng.choice(np.flatnonzero(pattern == p), q, replace=False)
                 for p, q in enumerate(quotas)]
        return items.take(np.sort(np.concatenate(index)))

    def _pattern(self, items: _Items) -> np.ndarray:
        return items.payload * len(CLASS_NAMES) + items.y

    def _simulate(self, robot: _Robot, physics: Physics, rng: np.random.Generator,
                  n_items: int, first_episode: int) -> _Items:
        """Roll out episodes until at least ``n_items`` candidate segments are collected."""
        parts: list[_Items] = []
        while sum(len(p.y) for p in parts) < n_items:
            payload = int(rng.choice(len(self.payload_scales), p=self.payload_probs))
            robot.configure(self.payload_scales[payload], physics)
            part = self._segments(*self._rollout(robot, rng), rng)
            part.payload[:] = payload
            part.episode[:] = first_episode + len(parts)
            parts.append(part)
        return _Items.concat(parts)

    def _rollout(self, robot: _Robot, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """One episode under the noisy balance controller: obs (T+1, 11), actions (T, 3), foot
        loads read at the end of each step (T, 2), fell.
        """
        gain = rng.uniform(*self.gain_range)
        noise = rng.uniform(*self.noise_range) * rng.standard_normal((self.max_steps, _ACT_DIM))
        obs = robot.reset(int(rng.integers(2**31)))
        observations, actions, loads, fell = [obs], [], [], False
        for step in range(self.max_steps):
            action = np.clip(gain * _balance_action(obs) + noise[step], -1.0, 1.0)
            obs, fell = robot.step(action)
            observations.append(obs)
            actions.append(action)
            loads.append(robot.foot_load())
            if fell:
                break
        return np.array(observations), np.array(actions), np.array(loads), fell

    def _segments(self, obs: np.ndarray, act: np.ndarray, load: np.ndarray, fell: bool,
                  rng: np.random.Generator) -> _Items:
        """Sub-sample segment end times whose label is known (a fall, or a seen safe future).

        The foot load is averaged over the same ``lag`` steps as the observation's change: one
        reading swings by about the robot's weight as the foot bounces, the average is close to
        weight x (1 + vertical acceleration / g), which with the velocity change beside it
        reveals the payload (``heavy`` weighs ~28 % more than ``light``).
        """
        steps = len(act)
        times = np.arange(self.lag, (steps if fell else steps - self.horizon) + 1)
        if len(times) > self.items_per_episode:
            times = np.sort(rng.choice(times, self.items_per_episode, replace=False))
        cumulative = np.concatenate([np.zeros((1, load.shape[1])), np.cumsum(load, axis=0)])
        mean_load = (cumulative[times] - cumulative[times - self.lag]) / self.lag
        x = np.concatenate([obs[times], obs[times] - obs[times - self.lag], act[times - 1],
                            mean_load], axis=1)
        y = (fell & (steps - times < self.horizon)).astype(np.int64)
        zeros = np.zeros(len(times), dtype=np.int64)
        return _Items(x.astype(np.float32), y, zeros, zeros.copy(), times.astype(np.int64))

    def _to_split(self, items: _Items, physics: Physics, mean: np.ndarray,
                  std: np.ndarray) -> Split:
        n = len(items.y)
        meta = {
            "pattern": self._pattern(items), "payload": items.payload,
            "gravity": np.full(n, physics.gravity), "slope": np.full(n, physics.slope),
            "friction": np.full(n, physics.friction), "episode": items.episode, "t": items.t,
        }
        return Split((items.x - mean) / std, items.y, items.payload, meta)


def _balance_action(obs: np.ndarray) -> np.ndarray:
    """PD control of the joints towards a straight leg, the hip also righting the torso."""
    angles, rates = obs[2:5], obs[8:11]
    action = -2.0 * angles - 0.2 * rates
    action[0] -= 2.0 * obs[1] + 0.2 * obs[7]
    return action


def _quotas(mass: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` in proportion to ``mass`` by largest remainder.

    The quotas sum to ``n`` exactly and none exceeds ``ceil(n * share)``, which the caller's
    supply check keeps within each pattern's candidate count.
    """
    share = n * mass / mass.sum()
    quotas = np.floor(share).astype(np.int64)
    order = np.argsort(quotas - share, kind="stable")
    quotas[order[: n - quotas.sum()]] += 1
    return quotas
