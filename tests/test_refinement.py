"""Continuous refinement: the per-round metrics in the loop's log, the early stops of
``construct.stop`` and their budget semantics, the adaptive method's re-targeting from the log,
and the harness-only label accuracy staying out of the method's reach."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from benchmark.annotation import Ledger, SimulatedAnnotator
from benchmark.config import ConstructParams, StopParams
from benchmark.construction.loop import HARNESS, early_stop, method_view
from benchmark.construction.loop import construct as run_loop
from benchmark.data import Split
from benchmark.method import METHODS, Method, RoundView, label_requests
from benchmark.stages.construct import ROUND_COLUMNS, rounds_csv
from methods.adaptive import Adaptive
from tests.test_methods import COSTS


def _construct(domain, res, path, method="random", budget=12.0, rounds=3,
               stop=None, error_rate=0.0, pool_patterns=None):
    stop = stop or StopParams()
    pool = domain["pool"]
    ledger = Ledger(path / "ledger.jsonl", f"{budget}-{rounds}-{stop}-{error_rate}")
    truth = {f"pool:{i}": int(y) for i, y in enumerate(pool.y)}
    annotator = SimulatedAnnotator(truth, domain.n_classes, ledger, COSTS,
                                   error_rate=error_rate, judge=res.judge)
    method = METHODS.get(method)() if isinstance(method, str) else method
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)
    result = run_loop(method, domain["seed"], hidden, domain["val"], domain.n_classes,
                      annotator, ConstructParams(budget, rounds, stop), 0, path / "state.npz",
                      res, pool_patterns=pool_patterns)
    return result, ledger


# --------------------------------------------------------------------------- round metrics


def test_round_log_holds_the_metrics_in_range(toy, resources, tmp_path) -> None:
    result, _ = _construct(toy, resources, tmp_path, rounds=2)
    k = resources.patterns.k
    for log in result.rounds:
        assert 0.0 <= log["cluster_entropy"] <= 1.0
        assert 1.0 <= log["cluster_effective"] <= k + 1e-9
        assert sum(log[f"cluster_gap/{c}"] for c in range(k)) == pytest.approx(0.0, abs=1e-9)
        for name in ("precision", "recall", "coverage"):
            assert 0.0 <= log[name] <= 1.0
        assert log["density"] >= 0.0
        assert 1.0 <= log["vendi"] <= log["dataset_size"]
        assert 0.0 <= log["label_issue_rate"] <= 1.0
        assert 0.0 <= log["composition_gap"] <= 1.0
        shares = [v for key, v in log.items() if key.startswith("group_share/")]
        assert sum(shares) == pytest.approx(1.0)
        assert 0.0 <= log["probe_val_acc"] <= 1.0
        assert {"group_val_acc/0", "group_val_acc/1"} <= set(log)
        assert log[f"{HARNESS}label_accuracy"] == 1.0  # error-free annotator
        assert log[f"{HARNESS}label_known"] == 1.0  # no synthetic items (random)
    assert "committee_consistency" not in result.rounds[0]  # slow: last round only
    assert 0.0 <= result.rounds[-1]["committee_consistency"] <= 1.0
    header, *rows = rounds_csv(result.rounds).splitlines()
    assert header.split(",")[: len(ROUND_COLUMNS) + 1] == ["round", *ROUND_COLUMNS]
    assert "coverage" in header.split(",") and len(rows) == 2


def test_label_accuracy_sees_annotator_errors(toy, resources, tmp_path) -> None:
    result, _ = _construct(toy, resources, tmp_path, budget=20.0, rounds=1, error_rate=0.5)
    log = result.rounds[0]
    assert log[f"{HARNESS}label_accuracy_pool"] < 1.0
    assert log[f"{HARNESS}label_accuracy_pool"] < log[f"{HARNESS}label_accuracy"] < 1.0


class _Spy(Method):
    """Labels two pool items a round and keeps everything the loop shows it."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[RoundView] = []

    def propose(self, view):
        self.seen.append(view)
        return view.pool

    def select(self, cands, view):
        return label_requests(cands, np.arange(2))


def test_harness_metrics_are_out_of_the_methods_reach(toy, resources, tmp_path) -> None:
    spy = _Spy()
    result, _ = _construct(toy, resources, tmp_path, method=spy, error_rate=0.5)
    assert all(f"{HARNESS}label_accuracy" in log for log in result.rounds)  # recorded ...
    assert [len(v.history) for v in spy.seen] == [0, 1, 2]
    for view in spy.seen:  # ... but nothing the method reads holds it or the hidden labels
        assert not [key for log in view.history for key in log
                    if key.startswith(HARNESS) or "label_accuracy" in key]
        assert not hasattr(view.pool, "y") and set(view.pool.meta) == {
            "source", "target_label", "target_cluster"}
        assert not hasattr(view, "resources") and not hasattr(view, "truth")
    assert method_view([{"a": 1, f"{HARNESS}x": 2}]) == [{"a": 1}]


# --------------------------------------------------------------------------- stopping


def test_early_stop_rules() -> None:
    logs = [{"coverage": 0.5, "cluster_entropy": 0.6, "probe_val_acc": a}
            for a in (0.70, 0.80, 0.81)]
    assert early_stop(logs, StopParams()) is None
    assert early_stop(logs, StopParams(coverage=0.5)) == "coverage_reached"
    assert early_stop(logs, StopParams(coverage=0.6)) is None
    assert early_stop(logs, StopParams(diversity=0.6)) == "diversity_reached"
    assert early_stop(logs, StopParams(patience=1)) is None  # 0.81 > 0.80
    assert early_stop(logs, StopParams(patience=1, min_delta=0.02)) == "no_improvement"
    assert early_stop(logs, StopParams(patience=2)) is None  # 0.81 > 0.70
    assert early_stop(logs, StopParams(patience=3)) is None  # too few rounds yet
    flat = [{"probe_val_acc": 0.8}, {"probe_val_acc": 0.8}]
    assert early_stop(flat, StopParams(patience=1)) == "no_improvement"  # equal: no gain
    assert early_stop([{}], StopParams(coverage=0.1, diversity=0.1)) is None  # no metrics


@pytest.mark.parametrize(("stop", "reason"), [
    (StopParams(coverage=0.01), "coverage_reached"),
    (StopParams(diversity=0.01), "diversity_reached"),
    (StopParams(patience=1, min_delta=1.0), "no_improvement"),
])
def test_each_stop_reason_ends_the_run_and_reports_its_spend(
        stop, reason, toy, resources, tmp_path) -> None:
    result, ledger = _construct(toy, resources, tmp_path, stop=stop)
    assert result.stop_reason == reason  # not rounds_underspent, although budget is left
    assert len(result.rounds) == (2 if reason == "no_improvement" else 1)
    assert result.cost == ledger.total_cost < 12.0
    assert "committee_consistency" in result.rounds[-1]  # the round that ended the run


def test_budget_and_underspent_semantics(toy, resources, tmp_path) -> None:
    # a target met on the last round does not rename a run that used its rounds and budget
    done, _ = _construct(toy, resources, tmp_path / "a", rounds=1, stop=StopParams(coverage=0.01))
    assert done.stop_reason == "rounds" and done.cost == 12.0
    broke, _ = _construct(toy, resources, tmp_path / "b", budget=0.1)
    assert broke.stop_reason == "budget" and broke.rounds == []
    spy = _Spy()  # 2 labels a round, 6 of 12 spent: plain under-spending is flagged
    under, _ = _construct(toy, resources, tmp_path / "c", method=spy,
                          stop=StopParams(patience=5))  # on, never met in 3 rounds
    assert under.stop_reason == "rounds_underspent" and under.cost == 6.0


# --------------------------------------------------------------------------- re-targeting


def _ctx(domain, res, history) -> RoundView:
    from benchmark.construction.items import RunItems
    from benchmark.construction.loop import Construction, Round, seed_dataset, views

    items = RunItems(domain["seed"], domain["pool"], res, 0)
    state = Construction(seed_dataset(items.seed), history)
    round_ = Round(1, 4.0, items.pool_candidates(set()), np.random.default_rng(0))
    return views(round_, state, items, domain["val"], domain.n_classes, COSTS)()


def test_retargeting_raises_a_lagging_cluster_and_group(toy, resources) -> None:
    k = resources.patterns.k

    def log(lagging_cluster: int, lagging_group: int) -> dict:
        gaps = {f"cluster_gap/{c}": (0.1 if c == lagging_cluster else -0.1 / (k - 1))
                for c in range(k)}
        return {**gaps, "probe_val_acc": 0.8, f"group_val_acc/{lagging_group}": 0.6,
                f"group_val_acc/{1 - lagging_group}": 0.9}

    base = Adaptive().pattern_table(_ctx(toy, resources, []))
    np.testing.assert_array_equal(base["cluster_boost"], np.ones(k))
    history = [log(0, 0), log(1, 1), log(1, 1)]  # cluster 1 and group 1 lag in the last two
    table = Adaptive().pattern_table(_ctx(toy, resources, history))
    np.testing.assert_allclose(table["cluster_boost"], [1.0, 1 + 2 / 3] + [1.0] * (k - 2))
    np.testing.assert_allclose(table["group_boost"], [1.0, 1 + 2 / 3])
    ratio = table["fair_scale"] / base["fair_scale"]  # same D, so only the boost differs
    assert ratio[1] == pytest.approx(1 + 2 / 3) and np.delete(ratio, 1) == pytest.approx(1.0)
    off = Adaptive(retarget=0.0).pattern_table(_ctx(toy, resources, history))
    np.testing.assert_array_equal(off["cluster_boost"], np.ones(k))
    no_fair = Adaptive(fairness=0.0).pattern_table(_ctx(toy, resources, history))
    np.testing.assert_array_equal(no_fair["group_boost"], np.ones(2))


# --------------------------------------------------------------------------- rare items bought


def _dataset(items: list[str]) -> Split:
    n = len(items)
    return Split(np.zeros((n, 2)), np.zeros(n), np.zeros(n), {"item": np.array(items)})


def test_rare_lift_bought_by_hand() -> None:
    from benchmark.construction.loop import rare_lift_bought

    seed_patterns = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # pattern 2 absent from seed: rare
    pool_patterns = np.array([0, 1, 2, 2, 0, 1, 0, 1, 2, 2])  # 4 of 10 rare
    bought = _dataset(["seed:0", "seed:1", "pool:2", "pool:3", "pool:0", "synth:1:0"])
    # 2 of 3 bought pool items rare, over 0.4 in the pool
    assert rare_lift_bought(bought, seed_patterns, pool_patterns, 0.5) == pytest.approx(
        (2 / 3) / 0.4)
    assert np.isnan(rare_lift_bought(_dataset(["seed:0"]), seed_patterns, pool_patterns, 0.5))


def test_the_loop_records_rare_lift_only_with_true_patterns(toy, resources, tmp_path
                                                            ) -> None:
    result, _ = _construct(toy, resources, tmp_path / "a", rounds=1)
    assert f"{HARNESS}rare_lift_bought" not in result.rounds[0]  # no patterns passed
    seed = toy["seed"]
    marked = copy.copy(toy)  # the module's fixture stays as it is
    marked.splits = {**toy.splits, "seed": Split(seed.x, seed.y, seed.group,
                                                 {**seed.meta, "pattern": seed.y.copy()})}
    patterns = np.where(np.arange(len(toy["pool"])) % 5 == 0, 99, toy["pool"].y)  # 99: rare
    result, _ = _construct(marked, resources, tmp_path / "b", rounds=1, pool_patterns=patterns)
    (log,) = result.rounds
    assert 0.0 <= log[f"{HARNESS}rare_lift_bought"] <= 5.0  # at most 1 / (rare pool share)
    assert "rare_lift_bought" not in method_view(result.rounds)[0]


def test_rarity_favours_the_items_d_lacks() -> None:
    from methods.adaptive import _rarity

    rng = np.random.default_rng(0)
    z_d = rng.normal(0, 1, (200, 4))
    z_pool = np.concatenate([rng.normal(0, 1, (300, 4)), rng.normal(6, 1, (60, 4))])
    w = _rarity(z_d, z_pool, 1.0, seed=0)
    assert w.mean() == pytest.approx(1.0)
    assert w[300:].min() > np.median(w[:300]) and w[300:].mean() > 3 * w[:300].mean()
    np.testing.assert_array_equal(_rarity(z_d, z_pool, 0.0, seed=0), np.ones(len(z_pool)))
