"""Contract tests for every registered construction method, and the loop's resume guarantee."""

import numpy as np
import pytest

from benchmark.annotation import Ledger, SimulatedAnnotator
from benchmark.config import ConstructParams
from benchmark.data import Split
from benchmark.loop import construct
from benchmark.method import METHODS


def _run(domain, method_name, tmp_path, budget=12.0, rounds=3, seed=0, method=None):
    pool = domain["pool"]
    ledger = Ledger(tmp_path / "ledger.jsonl", f"{method_name}-{budget}-{seed}")
    truth = {f"pool:{i}": int(y) for i, y in enumerate(pool.y)}
    annotator = SimulatedAnnotator(truth, domain.n_classes, ledger, cost_label=1.0, seed=seed)
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)
    method = method or METHODS.get(method_name)()
    result = construct(method, domain["seed"], hidden, domain["val"], domain.n_classes, annotator,
                       ConstructParams(budget=budget, rounds=rounds), seed, tmp_path / "state.npz")
    return result, ledger


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(name, toy_domain, tmp_path) -> None:
    result, ledger = _run(toy_domain, name, tmp_path)
    data = result.dataset
    assert result.cost <= 12.0 and result.cost == pytest.approx(ledger.total_cost)
    # the seed set is kept, every added item is a distinct pool item with its annotated label
    assert list(data.meta["item"][: len(toy_domain["seed"])]) == [
        f"seed:{i}" for i in range(len(toy_domain["seed"]))]
    added = data.meta["item"][len(toy_domain["seed"]):]
    assert len(set(added)) == len(added)
    labels = {a.item: a.label for a in ledger.entries}
    for item, y in zip(added, data.y[len(toy_domain["seed"]):], strict=True):
        assert item.startswith("pool:") and labels[item] == y
    assert data.x.dtype == np.float32 and len(data.x) == len(data.y) == len(data.group)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_is_deterministic_per_seed(name, toy_domain, tmp_path) -> None:
    a, _ = _run(toy_domain, name, tmp_path / "a")
    b, _ = _run(toy_domain, name, tmp_path / "b")
    np.testing.assert_array_equal(a.dataset.meta["item"], b.dataset.meta["item"])


def test_random_spends_the_whole_budget_and_seed_only_nothing(toy_domain, tmp_path) -> None:
    rand, _ = _run(toy_domain, "random", tmp_path / "r")
    seed_only, _ = _run(toy_domain, "seed_only", tmp_path / "s")
    assert rand.cost == 12.0 and len(rand.dataset) == len(toy_domain["seed"]) + 12
    assert [r["annotations"] for r in rand.rounds] == [4, 4, 4]
    assert seed_only.cost == 0.0 and seed_only.stop_reason == "no_candidates"


def test_balanced_random_alternates_groups(toy_domain, tmp_path) -> None:
    method = METHODS.get("random")(balance_groups=True)
    result, _ = _run(toy_domain, "random", tmp_path, budget=10, rounds=1, method=method)
    added = result.dataset.group[len(toy_domain["seed"]):]
    assert abs(int((added == 0).sum()) - int((added == 1).sum())) <= 1


class _Crash(RuntimeError):
    pass


def test_killed_run_resumes_without_losing_or_rebuying(toy_domain, tmp_path) -> None:
    clean, clean_ledger = _run(toy_domain, "random", tmp_path / "clean")

    calls = {"n": 0}
    real = SimulatedAnnotator.label

    def crash_in_round_two(self, items, round_):
        if round_ == 2:  # half the round's labels are bought, then the process dies
            real(self, items[: len(items) // 2], round_)
            raise _Crash
        calls["n"] += 1
        return real(self, items, round_)

    SimulatedAnnotator.label = crash_in_round_two
    try:
        with pytest.raises(_Crash):
            _run(toy_domain, "random", tmp_path / "killed")
    finally:
        SimulatedAnnotator.label = real
    killed = Ledger(tmp_path / "killed/ledger.jsonl", "random-12.0-0")
    bought_before = [a.item for a in killed.entries]
    resumed, ledger = _run(toy_domain, "random", tmp_path / "killed")
    items = [a.item for a in ledger.entries]
    assert items[: len(bought_before)] == bought_before  # nothing lost
    assert len(items) == len(set(items))  # nothing bought twice
    np.testing.assert_array_equal(resumed.dataset.meta["item"], clean.dataset.meta["item"])
    assert resumed.cost == clean.cost and ledger.total_cost == clean_ledger.total_cost
