"""The construction loop: rounds of propose -> select -> review -> incorporate under a budget.

The loop, not the method, owns the dataset and the ledger owns the cost. A method's candidates
must be remaining pool items or items generated this round through ``ctx.generate``; their
inputs are taken from the loop's own copies. Requests are charged at the price of their action,
an answer already bought is replayed free, duplicates are dropped. After every round D is
rebuilt as D + the items a human labelled, accepted or corrected + the method's declared
pseudo-labels; anything else is refused with an error naming the method.

After every round the dataset and the round log go to one state file (atomic), and every answer
is already in the fsynced ledger, so a killed run resumes after its last completed round and
replays the interrupted one from the ledger without paying twice. Each round's random
generator is derived from ``(seed, round)``, which makes the replay choose the same items.

Every round's log carries the metrics of ``benchmark.round_metrics`` (what a method may see;
the slow ones only on the round that ends the run) and the harness's own from hidden truth
(``harness/...``), which the method's ``ctx.history`` never shows. A run ends when the rounds
or the budget run out, when the method proposes nothing, or early at a target of
``construct.stop``; ``Construction.stop_reason`` says which.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.annotation import Annotation, Request, SimulatedAnnotator
from benchmark.config import ConstructParams, StopParams
from benchmark.data import Split, concat_splits
from benchmark.io import atomic_write_npz
from benchmark.method import UNKNOWN_GROUP, Candidates, Method, Pseudo, RoundContext
from benchmark.round_metrics import final_metrics, round_metrics

EPS = 1e-9
HARNESS = "harness/"  # round-log keys computed from hidden truth: never in ctx.history


class ProtocolError(RuntimeError):
    """A method tried to put into D (or ask about) something the protocol does not allow."""


@dataclass
class Construction:
    """The outcome: the constructed dataset, one log entry per completed round and why it
    stopped: ``rounds`` (all run, budget spent), ``rounds_underspent`` (all run, more than one
    item's price left), ``budget``, ``no_candidates``, or an early stop of ``construct.stop``:
    ``coverage_reached``, ``diversity_reached``, ``no_improvement`` (spend reported as is).
    """

    dataset: Split
    rounds: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "rounds"

    @property
    def cost(self) -> float:
        return float(sum(r["cost"] for r in self.rounds))


def seed_dataset(seed: Split) -> Split:
    """The starting dataset D: the labelled seed split with item ids and provenance."""
    n = len(seed)
    return Split(seed.x, seed.y, seed.group, _meta(
        np.array([f"seed:{i}" for i in range(n)]), "seed", np.full(n, "pool"),
        np.full(n, -1), np.full(n, -1), "seed"))


def _meta(items: np.ndarray, origin: str | np.ndarray, source: np.ndarray, target_label:
          np.ndarray, target_cluster: np.ndarray, action: str | np.ndarray) -> dict:
    n = len(items)
    return {"item": items, "origin": np.broadcast_to(origin, (n,)).astype(str),
            "source": np.asarray(source).astype(str),
            "target_label": np.asarray(target_label, np.int64),
            "target_cluster": np.asarray(target_cluster, np.int64),
            "action": np.broadcast_to(action, (n,)).astype(str)}


def pool_candidates(pool: Split, taken: set[str]) -> Candidates:
    """The pool items not yet in D, without their hidden labels."""
    items = np.array([f"pool:{i}" for i in range(len(pool))])
    keep = np.array([item not in taken for item in items], dtype=bool)
    return Candidates(items[keep], pool.x[keep], pool.group[keep])


def construct(method: Method, seed: Split, pool: Split, val: Split, n_classes: int,
              annotator: SimulatedAnnotator, params: ConstructParams, run_seed: int,
              state_path: str | Path, resources: Any = None, progress: Any = None,
              pool_patterns: np.ndarray | None = None, rare_ratio: float = 0.5
              ) -> Construction:
    """Run (or resume) the loop and return the constructed dataset. ``pool_patterns``: the
    simulator's true pattern per pool item, hidden like the labels (the harness's
    ``rare_lift_bought``; rare as ``patterns.rare_ratio`` defines it)."""
    fingerprint = annotator.ledger.fingerprint
    truth = getattr(annotator, "truth", None)  # the simulator's hidden labels (harness only)
    state = load_state(state_path, fingerprint) or Construction(seed_dataset(seed))
    cheapest = min(annotator.costs.values())
    for round_ in range(len(state.rounds) + 1, params.rounds + 1):
        if state.stop_reason != "rounds":
            break
        remaining = params.budget - state.cost
        if remaining < cheapest - EPS:
            state.stop_reason = "budget"
            break
        store = SyntheticStore(resources, round_, run_seed)
        ctx = RoundContext(
            round=round_, budget=remaining / (params.rounds - round_ + 1),
            costs=dict(annotator.costs), dataset=state.dataset,
            pool=pool_candidates(pool, set(state.dataset.meta["item"].tolist())),
            val=Split(val.x, val.y, val.group), n_classes=n_classes,
            rng=np.random.default_rng([run_seed, round_]), seed=run_seed,
            history=method_view(state.rounds), resources=resources, generate=store.generate)
        log = run_round(method, ctx, store, annotator, state)
        if log is None:
            state.stop_reason = "no_candidates"
            break
        log.update(harness_metrics(state.dataset, seed, truth, pool_patterns, rare_ratio))
        state.rounds.append(log)
        # an early stop only counts when the run would otherwise go on
        goes_on = round_ < params.rounds and params.budget - state.cost >= cheapest - EPS
        if goes_on:
            state.stop_reason = early_stop(state.rounds, params.stop) or "rounds"
        if not goes_on or state.stop_reason != "rounds":  # the run ends with this round
            log.update(final_metrics(state.dataset, ctx))
        save_state(state_path, state, fingerprint)
        if progress is not None:
            progress(log)
    # spent to within one item's price is spent; more left over is reported, never silent
    if state.stop_reason == "rounds" and params.budget - state.cost >= max(
            annotator.costs.values()) - EPS:
        state.stop_reason = "rounds_underspent"
    save_state(state_path, state, fingerprint)
    return state


def method_view(rounds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The round log as a method may read it: without the harness's hidden-truth keys."""
    return [{k: v for k, v in log.items() if not k.startswith(HARNESS)} for log in rounds]


def harness_metrics(dataset: Split, seed: Split, truth: Mapping[str, int] | None,
                    pool_patterns: np.ndarray | None = None, rare_ratio: float = 0.5
                    ) -> dict[str, float]:
    """Label quality of D from labels no method sees: accuracy over D's items whose truth is
    known (seed items and real pool items the simulator labels; a synthetic item has none — the
    judge's label is the answer a person gave, so it would only measure annotator noise),
    over its added pool items alone, and the share of D whose truth is known. Where the
    simulator records true patterns, also ``rare_lift_bought``: did the method buy the real
    items the seed set lacks (:func:`rare_lift_bought`)?
    """
    from benchmark.metrics.diversity import label_accuracy

    true = np.full(len(dataset), -1, np.int64)
    for row, item in enumerate(dataset.meta["item"].tolist()):
        split, _, index = item.partition(":")
        if split == "seed":
            true[row] = seed.y[int(index)]
        elif truth is not None and item in truth:
            true[row] = truth[item]
    known = true >= 0
    in_pool = known & np.char.startswith(dataset.meta["item"].astype(str), "pool:")
    out = {f"{HARNESS}label_accuracy": label_accuracy(dataset.y, true, known),
           f"{HARNESS}label_accuracy_pool": label_accuracy(dataset.y, true, in_pool),
           f"{HARNESS}label_known": float(known.mean()) if len(known) else math.nan}
    if pool_patterns is not None and "pattern" in seed.meta:
        out[f"{HARNESS}rare_lift_bought"] = rare_lift_bought(dataset, seed.meta["pattern"],
                                                             pool_patterns, rare_ratio)
    return out


def rare_lift_bought(dataset: Split, seed_patterns: np.ndarray, pool_patterns: np.ndarray,
                     rare_ratio: float) -> float:
    """Share of rare true patterns among the real pool items in D over their share in the
    pool: 1 = bought blind, above 1 = found what the seed set lacks (rare: a pattern whose seed
    share is below ``rare_ratio`` times its pool share, ``benchmark.patterns.rare_patterns``).
    The item-level twin of the pattern report's ``rare_lift``; nan before any pool item.
    """
    from benchmark.patterns import rare_patterns

    pattern = np.asarray(pool_patterns, np.int64)
    seed_patterns = np.asarray(seed_patterns, np.int64)
    n = int(max(pattern.max(initial=0), seed_patterns.max(initial=0))) + 1
    is_rare = np.isin(pattern, rare_patterns(seed_patterns, pattern, n, rare_ratio))
    items = dataset.meta["item"].astype(str)
    bought = np.array([int(i.partition(":")[2]) for i in items[np.char.startswith(items,
                                                                                   "pool:")]],
                      np.int64)
    if not len(bought) or not is_rare.any():
        return math.nan
    return float(is_rare[bought].mean() / is_rare.mean())


def early_stop(rounds: list[dict[str, Any]], stop: StopParams) -> str | None:
    """Why to stop before the rounds or the budget run out (None: go on): D's coverage of
    ``reference`` or its normalised cluster entropy reached the target, or ``probe_val_acc``
    has not beaten the best before by more than ``min_delta`` for ``patience`` rounds. A
    metric missing or nan (no resources) never stops a run.
    """
    last = rounds[-1]
    if stop.coverage is not None and last.get("coverage", math.nan) >= stop.coverage:
        return "coverage_reached"
    if stop.diversity is not None and last.get("cluster_entropy", math.nan) >= stop.diversity:
        return "diversity_reached"
    if stop.patience is not None and len(rounds) > stop.patience:
        acc = np.array([r.get("probe_val_acc", math.nan) for r in rounds], np.float64)
        if not np.isnan(acc).any() and (acc[-stop.patience:].max()
                                        <= acc[:-stop.patience].max() + stop.min_delta):
            return "no_improvement"
    return None


def run_round(method: Method, ctx: RoundContext, store: SyntheticStore,
              annotator: SimulatedAnnotator, state: Construction) -> dict[str, Any] | None:
    """One round; returns its log, or None when the method proposes nothing."""
    proposed = method.propose(ctx)
    if len(proposed) == 0:
        return None
    cands = owned_candidates(proposed, ctx.pool, store, method.name)
    answered = {a.key for a in annotator.ledger.entries if a.round < ctx.round}
    requests = affordable(checked_requests(method.select(cands, ctx), cands, ctx.n_classes,
                                           method.name), ctx.budget, ctx.costs, answered)
    where = {item: i for i, item in enumerate(cands.items.tolist())}
    rows = [where[r.item] for r in requests]
    answers = annotator.review(requests, cands.x[rows], cands.synthetic[rows], ctx.round)
    pseudo = method.incorporate(ctx, cands, answers)
    added = additions(cands, answers, checked_pseudo(pseudo, cands, answers, ctx.n_classes,
                                                     method.name))
    state.dataset = concat_splits({"dataset": state.dataset, "added": added})
    return round_log(ctx, cands, requests, answers, added, state.dataset)


def owned_candidates(cands: Candidates, pool: Candidates, store: SyntheticStore,
                     method: str) -> Candidates:
    """The proposed items, rebuilt from the loop's own copies (a method's x is never used)."""
    items = [str(i) for i in cands.items]
    if len(set(items)) != len(items):
        dup = next(i for i, c in Counter(items).items() if c > 1)
        raise ProtocolError(f"method {method!r} proposed item {dup!r} twice")
    owned = Candidates.concat([pool, *store.batches])
    where = {item: i for i, item in enumerate(owned.items.tolist())}
    unknown = [item for item in items if item not in where]
    if unknown:
        raise ProtocolError(
            f"method {method!r} proposed {unknown[0]!r}, which is neither a pool item outside "
            "D nor an item generated this round through ctx.generate")
    return owned.subset(np.array([where[item] for item in items], dtype=np.int64))


def checked_requests(requests: list[Request], cands: Candidates, n_classes: int,
                     method: str) -> list[Request]:
    """The method's requests, each about a candidate, once each (duplicates dropped)."""
    known, seen, out = set(cands.items.tolist()), set(), []
    synthetic = set(cands.items[cands.synthetic].tolist())
    for req in requests:
        if not isinstance(req, Request):
            raise ProtocolError(f"method {method!r}: select must return Request objects, got "
                                f"{type(req).__name__}")
        if req.item not in known:
            raise ProtocolError(f"method {method!r} requested {req.item!r}, not a candidate")
        if req.action == "reject" and req.item not in synthetic:
            raise ProtocolError(f"method {method!r} asked to reject real item {req.item!r}")
        if req.action == "verify" and not 0 <= req.proposed < n_classes:
            raise ProtocolError(f"method {method!r} proposed label {req.proposed} for "
                                f"{req.item!r}; expected 0..{n_classes - 1}")
        if req.key not in seen:
            seen.add(req.key)
            out.append(req)
    return out


def affordable(requests: list[Request], budget: float, costs: dict[str, float],
               answered: set[tuple[str, str]]) -> list[Request]:
    """The requests, in order, that fit in ``budget`` (ones answered in an earlier round are
    free: the ledger replays them).
    """
    spent, out = 0.0, []
    for req in requests:
        price = 0.0 if req.key in answered else costs[req.action]
        if spent + price <= budget + EPS:
            spent += price
            out.append(req)
    return out


def checked_pseudo(pseudo: Pseudo | None, cands: Candidates, answers: list[Annotation],
                   n_classes: int, method: str) -> Pseudo | None:
    """Declared unpaid additions: candidates no human answered this round, valid labels."""
    if pseudo is None or len(pseudo.index) == 0:
        return None
    index, label = np.asarray(pseudo.index, np.int64), np.asarray(pseudo.label, np.int64)
    looked_at = {a.item for a in answers}
    if len(index) != len(label) or len(set(index.tolist())) != len(index):
        raise ProtocolError(f"method {method!r}: pseudo-labels need one label per distinct row")
    if index.min() < 0 or index.max() >= len(cands) or label.min() < 0 or label.max() >= n_classes:
        raise ProtocolError(f"method {method!r}: pseudo-label rows or labels out of range")
    seen = [str(cands.items[i]) for i in index if str(cands.items[i]) in looked_at]
    if seen:
        raise ProtocolError(f"method {method!r} pseudo-labelled {seen[0]!r}, which a human "
                            "answered this round: the human answer decides")
    return Pseudo(index, label)


def additions(cands: Candidates, answers: list[Annotation], pseudo: Pseudo | None) -> Split:
    """The rows this round adds to D: human-labelled items, then declared pseudo-labels."""
    latest = {a.item: a for a in answers if a.gives_label}
    where = {item: i for i, item in enumerate(cands.items.tolist())}
    rows = [where[item] for item in latest]
    labels = [latest[item].label for item in latest]
    actions = [latest[item].action for item in latest]
    origin = ["human"] * len(rows)
    if pseudo is not None:
        rows += pseudo.index.tolist()
        labels += pseudo.label.tolist()
        actions += ["pseudo"] * len(pseudo.index)
        origin += ["pseudo"] * len(pseudo.index)
    rows_a = np.asarray(rows, np.int64)
    part = cands.subset(rows_a)
    group = np.where(part.synthetic, UNKNOWN_GROUP, part.group)
    return Split(part.x, np.asarray(labels, np.int64), group, _meta(
        part.items, np.asarray(origin, str), part.meta["source"], part.meta["target_label"],
        part.meta["target_cluster"], np.asarray(actions, str)))


def round_log(ctx: RoundContext, cands: Candidates, requests: list[Request],
              answers: list[Annotation], added: Split, dataset: Split) -> dict[str, Any]:
    """What happened in a round: cost (only answers bought this round), actions, outcomes,
    human evaluation of synthetic items (overall and per target cluster) and D's make-up.
    """
    fresh = {a.key: a for a in answers if a.round == ctx.round}
    synthetic = set(cands.items[cands.synthetic].tolist())
    cluster = dict(zip(cands.items.tolist(), cands.meta["target_cluster"].tolist(), strict=True))
    judged = [a for a in answers if a.item in synthetic]
    log: dict[str, Any] = {
        "round": ctx.round, "cost": round(float(sum(a.cost for a in fresh.values())), 9),
        "cumulative_cost": float(sum(r["cost"] for r in ctx.history)
                                 + sum(a.cost for a in fresh.values())),
        "candidates": len(cands), "synthetic_candidates": len(synthetic),
        "requests": dict(Counter(r.action for r in requests)),
        "outcomes": dict(Counter(a.outcome for a in answers)),
        "annotations": len(answers), "added_human": int((added.meta["origin"] == "human").sum()),
        "added_pseudo": int((added.meta["origin"] == "pseudo").sum()),
        "dataset_size": len(dataset),
        "synthetic_share": float((dataset.meta["source"] == "synthetic").mean()),
        "class_counts": np.bincount(dataset.y, minlength=ctx.n_classes).tolist(),
        "human_eval": human_eval(judged, cluster),
    }
    log.update({f"method/{k}": v for k, v in ctx.log.items()})
    log.update(round_metrics(dataset, ctx))
    return log


def human_eval(judged: list[Annotation], cluster: dict[str, int]) -> dict[str, Any]:
    """Shares of synthetic items accepted (labelled / accepted / kept), corrected and rejected,
    overall and per targeted cluster.
    """
    def shares(part: list[Annotation]) -> dict[str, float]:
        n = max(len(part), 1)
        ok = sum(a.outcome in ("accepted", "labelled", "kept") for a in part)
        return {"n": len(part), "accepted": ok / n,
                "corrected": sum(a.outcome == "corrected" for a in part) / n,
                "rejected": sum(a.outcome == "rejected" for a in part) / n}

    by_cluster: dict[int, list[Annotation]] = {}
    for a in judged:
        by_cluster.setdefault(int(cluster[a.item]), []).append(a)
    return {**shares(judged),
            "clusters": {str(c): shares(part) for c, part in sorted(by_cluster.items())}}


class SyntheticStore:
    """The items generated in one round: ids ``synth:<round>:<j>``, inputs kept by the loop.
    Sampling seeds derive from (run seed, round, call), so a replayed round regenerates the
    same items under the same ids.
    """

    def __init__(self, resources: Any, round_: int, seed: int) -> None:
        self.resources, self.round, self.seed = resources, round_, seed
        self.batches: list[Candidates] = []
        self.calls = 0

    def generate(self, n: int, label: int | np.ndarray | None = None,
                 cluster: int | np.ndarray | None = None) -> Candidates:
        """``n`` synthetic candidates of the requested class / cluster (None: untargeted)."""
        if self.resources is None:
            raise RuntimeError("this run has no generator (resources) to sample from")
        sample_seed = int(np.random.default_rng([self.seed, self.round, self.calls]
                                                ).integers(2**31))
        self.calls += 1
        x, meta = self.resources.sample(n, label, cluster, sample_seed)
        start = sum(len(b) for b in self.batches)
        ids = np.array([f"synth:{self.round}:{start + j}" for j in range(n)])
        cands = Candidates(ids, x, np.full(n, UNKNOWN_GROUP), {
            "source": np.full(n, "synthetic"), "target_label": meta["target_label"],
            "target_cluster": meta["target_cluster"]})
        self.batches.append(cands)
        return cands


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
