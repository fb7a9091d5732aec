"""The construction loop: rounds of propose -> select -> review -> incorporate under a budget.

The protocol is sealed. Each call of a method gets a fresh :class:`benchmark.method.RoundView` of
read-only copies, and the loop reads nothing back from it: it uses only what the method returns.
Candidates are looked up by id in the loop's own copies (:mod:`benchmark.construction.items`):
remaining pool items nobody answered, or items generated this round. Prices come from
``annotator.costs``, never from the method, and **the ledger is the one record of cost**: a round's
spend, the run's and the report's are sums over it, answers bought but not used included. A request
is sent only if the round can pay the most it may cost (a verify that a person corrects costs a
label), in waves: after each wave the ledger says what was spent, and requests that did not fit yet
are tried again. **D is a function of the ledger and the declared pseudo-labels**: after round r, D
= D + every item a person labelled, accepted or corrected in round r (the latest answer per item, in
ledger order) + the round's pseudo-labels, which may not touch an item a person answered in any
round; the declarations are saved with the state, and on resume and at the end D is rebuilt from the
ledger and them and must equal the state's. Anything else is refused with an error naming the
method.

After every round the dataset, the round log and the declarations go to one state file
(atomic), and every answer is already in the fsynced ledger, so a killed run resumes after its
last completed round and replays the interrupted one from the ledger without paying twice (an
answer replays only for an item with the same contents). Each round's random generator is
derived from ``(seed, round)``, which makes the replay choose the same items.

Every round's log carries the metrics of ``benchmark.construction.round_metrics``, computed on the
harness's side (its own ``val``, pool and embeddings, ``reference`` included; the slow ones only on
the round that ends the run), and the harness's own from hidden truth (``harness/...``), which a
method's history never shows. A run ends when the rounds or the budget run out, when the method
proposes nothing, or early at a target of ``construct.stop``; ``Construction.stop_reason`` says
which.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from benchmark.annotation import Annotation, Request, SimulatedAnnotator
from benchmark.annotation.ledger import Ledger, content_digest, worst_price
from benchmark.config import ConstructParams, StopParams
from benchmark.construction.items import RunItems, own_copy
from benchmark.construction.round_metrics import final_metrics, round_metrics
from benchmark.data import Split, concat_splits
from benchmark.io import DataFormatError, atomic_write_npz, read_npz
from benchmark.method import (
    UNKNOWN_GROUP,
    Candidates,
    Method,
    MethodError,
    ProtocolError,
    Pseudo,
    RoundView,
    _Arrays,
    finite_log,
    frozen,
    sealed_split,
)

__all__ = ["Construction", "HARNESS", "MethodError", "ProtocolError", "StateError", "construct"]

EPS = 1e-9
HARNESS = "harness/"  # round-log keys computed from hidden truth: never in a method's history


class StateError(RuntimeError):
    """A saved state that disagrees with the ledger it was built from."""


@dataclass
class Construction:
    """The outcome: the constructed dataset, one log entry per completed round, the pseudo-
    labels declared per round, what the ledger says was spent and why it stopped: ``rounds``
    (all run, budget spent), ``rounds_underspent`` (all run, more than one item's price left),
    ``budget``, ``no_candidates``, or an early stop of ``construct.stop``: ``coverage_reached``,
    ``diversity_reached``, ``no_improvement`` (spend reported as is).
    """

    dataset: Split
    rounds: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "rounds"
    pseudo: list[dict[str, Any]] = field(default_factory=list)  # {round, items, labels}
    cost: float = 0.0  # the ledger's total: every answer bought, used or not
    # embeddings of D's generated rows as first computed, so a resumed run measures them alike
    synthetic_z: np.ndarray | None = None


def seed_dataset(seed: Split) -> Split:
    """The starting dataset D: the labelled seed split with item ids and provenance."""
    n = len(seed)
    return Split(seed.x, seed.y, seed.group, _meta(
        np.array([f"seed:{i}" for i in range(n)]), "seed", np.full(n, "pool"),
        np.full(n, -1), np.full(n, -1), "seed"))


def _meta(items: np.ndarray, origin: str | np.ndarray, source: np.ndarray, target_label:
          np.ndarray, target_cluster: np.ndarray, action: str | np.ndarray) -> dict:
    n = len(items)
    return {"item": np.asarray(items).astype(str),
            "origin": np.broadcast_to(origin, (n,)).astype(str),
            "source": np.asarray(source).astype(str),
            "target_label": np.asarray(target_label, np.int64),
            "target_cluster": np.asarray(target_cluster, np.int64),
            "action": np.broadcast_to(action, (n,)).astype(str)}


@dataclass(frozen=True)
class Measure:
    """What the harness measures each round's D with: its own resources (``reference``
    included), embeddings by id, ``val`` and the round's remaining pool; never a method's view.
    """

    resources: Any
    embed: Callable[[np.ndarray], np.ndarray]
    val: Split
    pool: Candidates
    n_classes: int
    seed: int


@dataclass
class Round:
    """One round as the loop runs it: its number, budget, remaining pool (the loop's copy) and
    random generator, and the method's diagnostics.
    """

    number: int
    budget: float
    pool: Candidates
    rng: np.random.Generator
    log: dict[str, Any] = field(default_factory=dict)


def construct(method: Method, seed: Split, pool: Split, val: Split, n_classes: int,
              annotator: SimulatedAnnotator, params: ConstructParams, run_seed: int,
              state_path: str | Path, resources: Any = None, progress: Any = None,
              pool_patterns: np.ndarray | None = None, rare_ratio: float = 0.5
              ) -> Construction:
    """Run (or resume) the loop and return the constructed dataset. ``pool_patterns``: the
    simulator's true pattern per pool item, hidden like the labels (the harness's
    ``rare_lift_bought``; rare as ``patterns.rare_ratio`` defines it)."""
    ledger = annotator.ledger
    truth = getattr(annotator, "truth", None)  # the simulator's hidden labels (harness only)
    items = RunItems(seed, pool, resources, run_seed)
    val = own_copy(val)
    state = load_state(state_path, ledger.fingerprint)
    if state is None:
        state = Construction(seed_dataset(items.seed))
    else:
        items.register(state.dataset, state.synthetic_z)
        check_dataset(state, ledger, items, state_path)
    costs = MappingProxyType(dict(annotator.costs))
    cheapest = min(costs.values())
    for number in range(len(state.rounds) + 1, params.rounds + 1):
        if state.stop_reason != "rounds":
            break
        remaining = params.budget - ledger.cost_of(1, number - 1)
        if remaining < cheapest - EPS:
            state.stop_reason = "budget"
            break
        answered = {a.item for a in ledger.entries if a.round < number}
        round_ = Round(number, remaining / (params.rounds - number + 1),
                        items.pool_candidates(set(state.dataset.meta["item"].tolist())
                                              | answered),
                        np.random.default_rng([run_seed, number]))
        measure = Measure(resources, items.embed, val, round_.pool, n_classes, run_seed)
        log = run_round(method, round_, state, items, val, n_classes, annotator, costs,
                        measure)
        if log is None:
            state.stop_reason = "no_candidates"
            break
        log.update(harness_metrics(state.dataset, items.seed, truth, pool_patterns,
                                   rare_ratio))
        state.rounds.append(log)
        # an early stop only counts when the run would otherwise go on
        goes_on = number < params.rounds and params.budget - state.cost >= cheapest - EPS
        if goes_on:
            state.stop_reason = early_stop(state.rounds, params.stop) or "rounds"
        if not goes_on or state.stop_reason != "rounds":  # the run ends with this round
            log.update(final_metrics(state.dataset, measure))
        state.synthetic_z = items.synthetic_embeddings(state.dataset)
        save_state(state_path, state, ledger.fingerprint)
        if progress is not None:
            progress(log)
    state.cost = ledger.total_cost
    # spent to within one item's price is spent; more left over is reported, never silent
    if state.stop_reason == "rounds" and params.budget - state.cost >= max(
            costs.values()) - EPS:
        state.stop_reason = "rounds_underspent"
    check_dataset(state, ledger, items, state_path)
    save_state(state_path, state, ledger.fingerprint)
    return state


def run_round(method: Method, round_: Round, state: Construction, items: RunItems,
              val: Split, n_classes: int, annotator: SimulatedAnnotator,
              costs: Mapping[str, float], measure: Measure) -> dict[str, Any] | None:
    """One round; returns its log, or None when the method proposes nothing."""
    view = views(round_, state, items, val, n_classes, costs)
    proposed = _call(method, "propose", view())
    if not isinstance(proposed, Candidates):
        raise ProtocolError(f"method {method.name!r}: propose must return Candidates, got "
                            f"{type(proposed).__name__}")
    if len(proposed) == 0:
        return None
    cands = items.owned(proposed.items, round_.pool, round_.number, method.name)
    requests = checked_requests(_call(method, "select", cands.sealed(), view()), cands,
                                n_classes, method.name)
    answers = buy(requests, cands, items, annotator, round_.budget, round_.number, method.name)
    pseudo = checked_pseudo(_call(method, "incorporate", view(), cands.sealed(), list(answers)),
                            cands, annotator.ledger, n_classes, method.name)
    state.pseudo.append({"round": round_.number,
                         "items": [str(cands.items[i]) for i in pseudo.index],
                         "labels": [int(v) for v in pseudo.label]})
    added = round_additions(round_.number, annotator.ledger, state.pseudo[-1], items)
    state.dataset = concat_splits({"dataset": state.dataset, "added": added})
    state.cost = annotator.ledger.total_cost
    return round_log(round_, cands, answers, added, state.dataset, annotator.ledger, measure)


def views(round_: Round, state: Construction, items: RunItems, val: Split, n_classes: int,
           costs: Mapping[str, float]) -> Callable[[], RoundView]:
    """A maker of the round's views, one fresh for every call of the method."""
    resources = items.resources

    def make() -> RoundView:
        return RoundView(
            round=round_.number, budget=round_.budget, costs=MappingProxyType(dict(costs)),
            dataset=sealed_split(state.dataset), pool=round_.pool.sealed(),
            val=sealed_split(val, meta=False), n_classes=n_classes, seed=items.run_seed,
            rng=round_.rng, history=frozen(method_view(state.rounds)),
            embeddings=_Arrays(items.visible_embeddings), log=round_.log,
            _patterns=(lambda: copy.deepcopy(resources.patterns)) if resources else None,
            _embed=items.embed if resources else None,
            _generate=(lambda n, label, cluster: items.generate(round_.number, n, label,
                                                                cluster))
            if resources else None)
    return make


def _call(method: Method, step: str, *args: Any) -> Any:
    """A method's ``step``, its failures named after it."""
    try:
        return getattr(method, step)(*args)
    except (ProtocolError, MethodError, DataFormatError, FileNotFoundError):
        raise  # a damaged or missing upstream file the view read for it is not the method's
    except Exception as err:
        raise MethodError(f"method {method.name!r} failed in {step}: "
                          f"{type(err).__name__}: {err}") from err


def checked_requests(requests: Any, cands: Candidates, n_classes: int,
                     method: str) -> list[Request]:
    """The method's requests, each about a candidate, once each (duplicates dropped)."""
    if not isinstance(requests, list | tuple):
        raise ProtocolError(f"method {method!r}: select must return a list of Request objects,"
                            f" got {type(requests).__name__}")
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
            out.append(Request(req.item, req.action, req.proposed))  # the loop's own copy
    return out


def buy(requests: list[Request], cands: Candidates, items: RunItems,
        annotator: SimulatedAnnotator, budget: float, round_: int,
        method: str) -> list[Annotation]:
    """Send the requests, in order, that the round can pay for, and return the answers.

    A request not yet answered this round is sent only if what the round spent so far (the
    ledger's record) plus the most every request of the wave may cost stays within ``budget``;
    one answered before (a replayed round) comes back free, and only for an item with the same
    contents. After each wave the ledger says what was really spent (an accepted verify costs
    less than a corrected one), and the requests that did not fit are tried again.
    """
    ledger, costs = annotator.ledger, annotator.costs
    row = {item: i for i, item in enumerate(cands.items.tolist())}
    answers: list[Annotation] = []
    pending = requests
    while pending:
        known = {a.key: a for a in ledger.entries if a.round == round_}
        spent = ledger.cost_of(round_)
        wave, later = [], []
        for req in pending:
            if req.key in known:
                wave.append(req)
            elif spent + worst_price(req.action, costs) <= budget + EPS:
                spent += worst_price(req.action, costs)
                wave.append(req)
            else:
                later.append(req)
        if not wave:
            break
        rows = [row[r.item] for r in wave]
        for req, i in zip(wave, rows, strict=True):
            old = known.get(req.key)
            if old is not None and old.digest and old.digest != content_digest(cands.x[i]):
                raise ProtocolError(
                    f"method {method!r} asked about {req.item!r} again, but with other contents"
                    f" than the answer in {ledger.path} was given for: a replayed round must "
                    "generate the same items")
        answers += annotator.review(wave, cands.x[rows], cands.synthetic[rows], round_)
        if all(req.key in known for req in wave):  # nothing new sent: nothing more fits
            break
        pending = later
    return answers


def checked_pseudo(pseudo: Any, cands: Candidates, ledger: Ledger, n_classes: int,
                   method: str) -> Pseudo:
    """Declared unpaid additions: distinct candidates with valid labels that no person
    answered, in any round (a human answer decides, and a paid one cannot be relabelled free).
    """
    empty = Pseudo(np.zeros(0, np.int64), np.zeros(0, np.int64))
    if pseudo is None:
        return empty
    if not isinstance(pseudo, Pseudo):
        raise ProtocolError(f"method {method!r}: incorporate must return Pseudo or None, got "
                            f"{type(pseudo).__name__}")
    index = np.array(pseudo.index, np.int64).reshape(-1)
    label = np.array(pseudo.label, np.int64).reshape(-1)
    if len(index) == 0:
        return empty
    if len(index) != len(label) or len(set(index.tolist())) != len(index):
        raise ProtocolError(f"method {method!r}: pseudo-labels need one label per distinct row")
    if index.min() < 0 or index.max() >= len(cands) or label.min() < 0 or label.max() >= n_classes:
        raise ProtocolError(f"method {method!r}: pseudo-label rows or labels out of range")
    answered = {a.item for a in ledger.entries}
    seen = [str(cands.items[i]) for i in index if str(cands.items[i]) in answered]
    if seen:
        raise ProtocolError(f"method {method!r} pseudo-labelled {seen[0]!r}, which a person "
                            "answered: the person's answer decides")
    return Pseudo(index, label)


def round_additions(round_: int, ledger: Ledger, pseudo: Mapping[str, Any],
                    items: RunItems) -> Split:
    """The rows round ``round_`` adds to D, from the ledger and the round's declarations: each
    item a person labelled, accepted or corrected in that round (its latest answer, in ledger
    order; an answer about a generated item the loop no longer holds with those contents, left
    by a crashed attempt, is paid for but cannot enter), then the declared pseudo-labels.
    """
    latest: dict[str, Annotation] = {}
    for a in ledger.entries:
        if a.round == round_ and a.gives_label and items.holds(a.item) and (
                not a.digest or a.digest == items.digest(a.item)):
            latest[a.item] = a
    names = list(latest) + list(pseudo["items"])
    labels = [latest[i].label for i in latest] + list(pseudo["labels"])
    actions = [latest[i].action for i in latest] + ["pseudo"] * len(pseudo["items"])
    origin = ["human"] * len(latest) + ["pseudo"] * len(pseudo["items"])
    part = items.rows(names)
    group = np.where(part.synthetic, UNKNOWN_GROUP, part.group)
    return Split(part.x, np.asarray(labels, np.int64), group, _meta(
        part.items, np.asarray(origin, str), part.meta["source"], part.meta["target_label"],
        part.meta["target_cluster"], np.asarray(actions, str)))


def check_dataset(state: Construction, ledger: Ledger, items: RunItems,
                  path: str | Path) -> None:
    """D rebuilt from the seed split, the ledger and the declared pseudo-labels must be the
    saved one: a state that disagrees was damaged or written by other code.
    """
    parts = {"seed": seed_dataset(items.seed)}
    parts.update({f"round{r + 1}": round_additions(r + 1, ledger, state.pseudo[r], items)
                  for r in range(len(state.rounds))})
    rebuilt, saved = concat_splits(parts), state.dataset
    columns = [("x", rebuilt.x, saved.x), ("y", rebuilt.y, saved.y),
               ("group", rebuilt.group, saved.group)]
    columns += [(k, rebuilt.meta[k], saved.meta.get(k)) for k in rebuilt.meta]
    for name, want, got in columns:
        if got is None or want.shape != got.shape or not np.array_equal(want, got):
            raise StateError(
                f"{path}: its dataset ({name}) is not what the ledger {ledger.path} and the "
                "declared pseudo-labels give; the state was damaged. Delete it to replay the run"
                " from the ledger (no answer is bought again)")


def round_log(round_: Round, cands: Candidates, answers: list[Annotation], added: Split,
              dataset: Split, ledger: Ledger, measure: Measure) -> dict[str, Any]:
    """What happened in a round: cost (from the ledger: everything bought this round), actions,
    outcomes, human evaluation of synthetic items (overall and per target cluster) and D's
    make-up, the method's diagnostics and the round metrics.
    """
    number = round_.number
    synthetic = set(cands.items[cands.synthetic].tolist())
    cluster = dict(zip(cands.items.tolist(), cands.meta["target_cluster"].tolist(), strict=True))
    judged = [a for a in answers if a.item in synthetic]
    log: dict[str, Any] = {
        "round": number, "cost": round(ledger.cost_of(number), 9),
        "cumulative_cost": round(ledger.cost_of(1, number), 9),
        "candidates": len(cands), "synthetic_candidates": len(synthetic),
        "requests": dict(Counter(a.action for a in answers)),  # the requests sent
        "outcomes": dict(Counter(a.outcome for a in answers)),
        "annotations": len(answers), "added_human": int((added.meta["origin"] == "human").sum()),
        "added_pseudo": int((added.meta["origin"] == "pseudo").sum()),
        "dataset_size": len(dataset),
        "synthetic_share": float((dataset.meta["source"] == "synthetic").mean()),
        "class_counts": np.bincount(dataset.y, minlength=measure.n_classes).tolist(),
        "human_eval": human_eval(judged, cluster),
    }
    log.update({f"method/{k}": v for k, v in finite_log(round_.log).items()})
    log.update(round_metrics(dataset, measure))
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
    from benchmark.evaluation.metrics.diversity import label_accuracy

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
    share is below ``rare_ratio`` times its pool share,
    ``benchmark.upstream.patterns.rare_patterns``).
    The item-level twin of the pattern report's ``rare_lift``; nan before any pool item.
    """
    from benchmark.upstream.patterns import rare_patterns

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


def save_state(path: str | Path, state: Construction, fingerprint: str) -> None:
    """Dataset, round log, pseudo-label declarations, cost and stop reason in one atomically
    written file.
    """
    header = {"fingerprint": fingerprint, "rounds": state.rounds, "stop_reason": state.stop_reason,
              "pseudo": state.pseudo, "cost": state.cost}
    arrays = {"x": state.dataset.x, "y": state.dataset.y, "group": state.dataset.group,
              "header": np.array(json.dumps(header))}
    arrays.update({f"meta.{k}": v for k, v in state.dataset.meta.items()})
    if state.synthetic_z is not None:
        arrays["synthetic_z"] = state.synthetic_z
    atomic_write_npz(path, arrays)


def load_state(path: str | Path, fingerprint: str) -> Construction | None:
    """The saved state if it belongs to this run (same fingerprint), else None."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        npz = read_npz(path)
        header = json.loads(str(npz["header"]))
        if header["fingerprint"] != fingerprint:
            return None
        meta = {k[5:]: npz[k] for k in npz if k.startswith("meta.")}
        dataset = Split(npz["x"], npz["y"], npz["group"], meta)
        return Construction(dataset, header["rounds"], header["stop_reason"], header["pseudo"],
                            header["cost"], npz.get("synthetic_z"))
    except (DataFormatError, KeyError, TypeError, ValueError) as err:
        # a cache of the ledger, never the answers themselves: rebuilt from the ledger
        print(f"warning: {path}: unreadable resume state ({err!r}); rebuilding the run from "
              "its ledger (no answer is lost or bought again)", file=sys.stderr, flush=True)
        return None
