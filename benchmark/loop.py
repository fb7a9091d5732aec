"""The construction loop: rounds of propose -> select -> annotate -> incorporate under a budget.

After every round the dataset and the round log go to one state file (atomic), and every
annotation is already in the fsynced ledger, so a killed run resumes after its last completed
round and replays the interrupted one from the ledger without paying twice. Each round's random
generator is derived from ``(seed, round)``, which makes the replay choose the same items.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.annotation import SimulatedAnnotator
from benchmark.config import ConstructParams
from benchmark.data import Split
from benchmark.io import atomic_write_npz
from benchmark.method import Candidates, Method, RoundContext


@dataclass
class Construction:
    """The outcome: the constructed dataset and one log entry per completed round."""

    dataset: Split
    rounds: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "rounds"

    @property
    def cost(self) -> float:
        return float(sum(r["cost"] for r in self.rounds))


def seed_dataset(seed: Split) -> Split:
    """The starting dataset D: the labelled seed split with item ids and origin."""
    n = len(seed)
    meta = {"item": np.array([f"seed:{i}" for i in range(n)]), "origin": np.full(n, "seed")}
    return Split(seed.x, seed.y, seed.group, meta)


def pool_candidates(pool: Split, taken: set[str]) -> Candidates:
    """The pool items not yet in D, without their hidden labels."""
    items = np.array([f"pool:{i}" for i in range(len(pool))])
    keep = np.array([item not in taken for item in items], dtype=bool)
    return Candidates(items[keep], pool.x[keep], pool.group[keep])


def construct(method: Method, seed: Split, pool: Split, val: Split, n_classes: int,
              annotator: SimulatedAnnotator, params: ConstructParams, run_seed: int,
              state_path: str | Path) -> Construction:
    """Run (or resume) the loop and return the constructed dataset."""
    state = load_state(state_path, annotator.ledger.fingerprint) or Construction(seed_dataset(seed))
    if state.stop_reason != "rounds":
        return state
    for round_ in range(len(state.rounds) + 1, params.rounds + 1):
        remaining = params.budget - state.cost
        ctx = RoundContext(
            round=round_, budget=remaining / (params.rounds - round_ + 1),
            cost_label=annotator.cost_label, dataset=state.dataset,
            pool=pool_candidates(pool, set(state.dataset.meta["item"].tolist())), val=val,
            n_classes=n_classes, rng=np.random.default_rng([run_seed, round_]), seed=run_seed,
        )
        if remaining < annotator.cost_label:
            state.stop_reason = "budget"
            break
        cands = method.propose(ctx)
        if len(cands) == 0:
            state.stop_reason = "no_candidates"
            break
        chosen = affordable(method.select(cands, ctx), ctx.budget, annotator.cost_label)
        feedback = annotator.label(cands.items[chosen].tolist(), round_)
        state.dataset = method.incorporate(ctx, cands, feedback)
        state.rounds.append(round_log(round_, feedback, state, n_classes))
        save_state(state_path, state, annotator.ledger.fingerprint)
    save_state(state_path, state, annotator.ledger.fingerprint)
    return state


def affordable(order: np.ndarray, budget: float, cost: float) -> np.ndarray:
    """The first items of ``order`` whose labels fit in ``budget``."""
    n = max(0, math.floor(budget / cost + 1e-9))
    return np.asarray(order, dtype=np.int64)[:n]


def round_log(round_: int, feedback: list, state: Construction, n_classes: int) -> dict[str, Any]:
    cost = float(sum(a.cost for a in feedback))
    counts = np.bincount(state.dataset.y, minlength=n_classes)
    return {
        "round": round_, "cost": cost, "cumulative_cost": state.cost + cost,
        "annotations": len(feedback), "dataset_size": len(state.dataset),
        "class_counts": counts.tolist(),
    }


def save_state(path: str | Path, state: Construction, fingerprint: str) -> None:
    """Dataset, round log and stop reason in one atomically written file."""
    header = {"fingerprint": fingerprint, "rounds": state.rounds, "stop_reason": state.stop_reason}
    arrays = {"x": state.dataset.x, "y": state.dataset.y, "group": state.dataset.group,
              "header": np.array(json.dumps(header))}
    arrays.update({f"meta.{k}": v for k, v in state.dataset.meta.items()})
    atomic_write_npz(path, arrays)


def load_state(path: str | Path, fingerprint: str) -> Construction | None:
    """The saved state if it belongs to this run (same fingerprint), else None."""
    path = Path(path)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(str(npz["header"]))
        if header["fingerprint"] != fingerprint:
            return None
        meta = {k[5:]: npz[k] for k in npz.files if k.startswith("meta.")}
        dataset = Split(npz["x"], npz["y"], npz["group"], meta)
    return Construction(dataset, header["rounds"], header["stop_reason"])
