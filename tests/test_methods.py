"""Contract tests for every registered construction method, per-action costs, and the resume
guarantee (hostile methods: tests/test_protocol.py)."""


import numpy as np
import pytest

from benchmark.annotation import Ledger, SimulatedAnnotator
from benchmark.config import ConstructParams
from benchmark.construction.loop import construct
from benchmark.data import Split
from benchmark.method import METHODS
from methods.scale_only import ScaleOnly

COSTS = {"label": 1.0, "verify": 0.4, "reject": 0.2}
SMALL = {"scale_only": {"real": 10, "synthetic": 6}, "basic_filter": {"real": 10, "synthetic": 6}}


def _run(domain, resources, name, path, budget=12.0, rounds=3, seed=0, method=None,
         fingerprint=None):
    pool = domain["pool"]
    ledger = Ledger(path / "ledger.jsonl", fingerprint or f"{name}-{budget}-{seed}")
    truth = {f"pool:{i}": int(y) for i, y in enumerate(pool.y)}
    annotator = SimulatedAnnotator(truth, domain.n_classes, ledger, COSTS, seed=seed,
                                   judge=resources.judge)
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)
    method = method or METHODS.get(name)(**SMALL.get(name, {}))
    result = construct(method, domain["seed"], hidden, domain["val"], domain.n_classes,
                       annotator, ConstructParams(budget=budget, rounds=rounds), seed,
                       path / "state.npz", resources)
    return result, ledger


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(name, toy, resources, tmp_path) -> None:
    result, ledger = _run(toy, resources, name, tmp_path)
    data, n_seed = result.dataset, len(toy["seed"])
    assert result.cost <= 12.0 + 1e-9 and result.cost == pytest.approx(ledger.total_cost)
    if name != "seed_only":  # spent to within one action's price
        assert 12.0 - result.cost < max(COSTS.values())
    assert list(data.meta["item"][:n_seed]) == [f"seed:{i}" for i in range(n_seed)]
    items = data.meta["item"].tolist()
    assert len(set(items)) == len(items)
    labelled = {a.item: a.label for a in ledger.entries if a.gives_label}
    for row in range(n_seed, len(data)):
        item, origin = items[row], data.meta["origin"][row]
        assert origin in ("human", "pseudo")
        if origin == "human":  # every paid row is in the ledger with this label
            assert labelled[item] == data.y[row]
        assert item.startswith(("pool:", "synth:"))
        assert (data.group[row] == -1) == item.startswith("synth:")
    assert set(labelled) <= set(items)  # nothing a human labelled is lost
    assert data.x.dtype == np.float32 and len(data.x) == len(data.y) == len(data.group)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_is_deterministic_per_seed(name, toy, resources, tmp_path) -> None:
    a, _ = _run(toy, resources, name, tmp_path / "a")
    b, _ = _run(toy, resources, name, tmp_path / "b")
    np.testing.assert_array_equal(a.dataset.meta["item"], b.dataset.meta["item"])
    np.testing.assert_array_equal(a.dataset.x, b.dataset.x)


def test_random_spends_the_whole_budget_and_seed_only_nothing(toy, resources, tmp_path) -> None:
    rand, _ = _run(toy, resources, "random", tmp_path / "r")
    seed_only, _ = _run(toy, resources, "seed_only", tmp_path / "s")
    assert rand.cost == 12.0 and len(rand.dataset) == len(toy["seed"]) + 12
    assert [r["annotations"] for r in rand.rounds] == [4, 4, 4]
    assert seed_only.cost == 0.0 and len(seed_only.dataset) == len(toy["seed"])


class _Recording(ScaleOnly):
    """scale_only, keeping the last round's candidate ids."""

    def incorporate(self, view, cands, answers):
        self.items_ = cands.items
        return super().incorporate(view, cands, answers)


def test_model_assisted_methods_pay_for_what_people_do(toy, resources, tmp_path) -> None:
    """scale_only verifies pre-labels: an accepted verify (or a synthetic item rejected) costs
    the verify price, a correction a label; the round spends no more than its budget, to within
    the most one answer can cost. Of the unverified candidates exactly the pre-labels at or
    above the confidence threshold chosen on val join, as pseudo-labels.
    """
    method = _Recording(**SMALL["scale_only"], pseudo_precision=0.9)
    result, ledger = _run(toy, resources, "scale_only", tmp_path, budget=4.0, rounds=1,
                          method=method)
    assert {a.action for a in ledger.entries} == {"verify"}
    for a in ledger.entries:
        assert a.cost == (1.0 if a.outcome == "corrected" else 0.4)
    assert result.cost == pytest.approx(ledger.total_cost)
    assert 3.0 < result.cost <= 4.0 + 1e-9
    threshold = result.rounds[0]["method/pseudo_threshold"]
    confidence = dict(zip(method.items_, method.committee_.mean.max(axis=1), strict=True))
    verified = {a.item for a in ledger.entries}
    joined = {i for i, c in confidence.items() if i not in verified and c >= threshold}
    pseudo = result.dataset.meta["item"][result.dataset.meta["origin"] == "pseudo"]
    assert set(pseudo) == joined and 0 < len(joined) < 16 - len(verified)


def test_adaptive_generates_targeted_items_and_logs_human_evaluation(toy, resources,
                                                                     tmp_path) -> None:
    result, ledger = _run(toy, resources, "adaptive", tmp_path, budget=12.0, rounds=2)
    synthetic = [a for a in ledger.entries if a.item.startswith("synth:")]
    assert synthetic and all(a.action == "verify" and a.proposed >= 0 for a in synthetic)
    real = [a for a in ledger.entries if a.item.startswith("pool:")]
    assert real and {a.action for a in real} == {"verify"}  # the committee's pre-label shown
    assert all(a.proposed >= 0 and a.label == toy["pool"].y[int(a.item[5:])] for a in real)
    first = result.rounds[0]["human_eval"]
    assert first["n"] == sum(1 for a in synthetic if a.round == 1)
    assert first["accepted"] + first["corrected"] + first["rejected"] == pytest.approx(1.0)
    assert 0.0 <= result.rounds[0]["method/committee_agreement"] <= 1.0


def test_balanced_random_alternates_groups(toy, resources, tmp_path) -> None:
    method = METHODS.get("random")(balance_groups=True)
    result, _ = _run(toy, resources, "random", tmp_path, budget=10, rounds=1, method=method)
    added = result.dataset.group[len(toy["seed"]):]
    assert abs(int((added == 0).sum()) - int((added == 1).sum())) <= 1


# --------------------------------------------------------------------------- resume


class _Crash(RuntimeError):
    pass


@pytest.mark.parametrize("name", ["random", "adaptive"])
def test_killed_run_resumes_without_losing_or_rebuying(name, toy, resources, tmp_path) -> None:
    clean, clean_ledger = _run(toy, resources, name, tmp_path / "clean")
    real = SimulatedAnnotator.review

    def crash_in_round_two(self, requests, x, synthetic, round_):
        if round_ == 2:  # half the round's answers are bought, then the process dies
            half = len(requests) // 2
            real(self, requests[:half], x[:half], synthetic[:half], round_)
            raise _Crash
        return real(self, requests, x, synthetic, round_)

    SimulatedAnnotator.review = crash_in_round_two
    try:
        with pytest.raises(_Crash):
            _run(toy, resources, name, tmp_path / "killed")
    finally:
        SimulatedAnnotator.review = real
    killed = Ledger(tmp_path / "killed/ledger.jsonl", f"{name}-12.0-0")
    bought_before = [a.key for a in killed.entries]
    resumed, ledger = _run(toy, resources, name, tmp_path / "killed")
    keys = [a.key for a in ledger.entries]
    assert keys[: len(bought_before)] == bought_before  # nothing lost
    assert len(keys) == len(set(keys))  # nothing bought twice
    np.testing.assert_array_equal(resumed.dataset.meta["item"], clean.dataset.meta["item"])
    np.testing.assert_array_equal(resumed.dataset.y, clean.dataset.y)
    assert resumed.cost == clean.cost and ledger.total_cost == clean_ledger.total_cost


def test_human_annotator_waits_for_people_then_resumes(toy, resources, tmp_path) -> None:
    """With people in the loop a round stops at a queue; once their answers are in the ledger
    the rerun replays the round and goes on, paying each answer once.
    """
    from benchmark.annotation.human import AwaitingAnswers, HumanAnnotator
    from benchmark.annotation.labelstudio import read_queue

    pool = toy["pool"]
    ledger = Ledger(tmp_path / "ledger.jsonl", "fp")
    human = HumanAnnotator(ledger, COSTS, tmp_path / "queue.npz", "tabular", toy.class_names)
    people = SimulatedAnnotator({f"pool:{i}": int(y) for i, y in enumerate(pool.y)},
                                toy.n_classes, ledger, COSTS, name="people")
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)

    def run():
        return construct(METHODS.get("random")(), toy["seed"], hidden, toy["val"],
                         toy.n_classes, human, ConstructParams(budget=4, rounds=2), 0,
                         tmp_path / "state.npz", resources)

    for round_ in (1, 2):
        with pytest.raises(AwaitingAnswers, match=f"round {round_}: 2 requests"):
            run()
        queue = read_queue(tmp_path / "queue.npz")
        people.review(queue.requests, queue.x, queue.synthetic, queue.round)
    result = run()
    assert result.cost == ledger.total_cost == 4.0
    assert {a.annotator for a in ledger.entries} == {"people"}
    assert len(result.dataset) == len(toy["seed"]) + 4
