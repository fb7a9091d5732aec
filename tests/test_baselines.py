"""The reference methods' own rules: the confidence threshold chosen on val, basic_filter's
cleanlab checks on what joins unverified, and uncertainty sampling's order."""

from __future__ import annotations

import numpy as np

from benchmark.construction.assist import Committee, confidence_threshold
from benchmark.data import Split
from benchmark.method import METHODS, Candidates, RoundView
from methods.basic_filter import BasicFilter
from tests.test_methods import _run


def test_confidence_threshold_is_the_largest_confident_set_of_that_precision() -> None:
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    y = np.array([0, 0, 1, 0])  # right, right, wrong, right
    assert confidence_threshold(proba, y, 0.75) == 0.6  # all four: 3 of 4 right
    assert confidence_threshold(proba, y, 0.8) == 0.8  # the top two
    assert confidence_threshold(proba, 1 - y, 0.5) == np.inf  # the most confident is wrong


def _view(dataset: Split) -> RoundView:
    empty = Candidates(np.zeros(0, str), np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
    return RoundView(round=1, budget=1.0, costs={"label": 1.0, "verify": 0.4, "reject": 0.2},
                     dataset=dataset, pool=empty, val=dataset, n_classes=2, seed=0,
                     rng=np.random.default_rng(0), history=(), embeddings={}, log={})


def test_basic_filter_drops_label_issues_duplicates_and_outliers() -> None:
    rng = np.random.default_rng(0)
    centre = np.array([[0.0, 0.0], [6.0, 6.0]])
    y_d = np.repeat([0, 1], 60)
    z_d = centre[y_d] + rng.normal(0, 1, (120, 2))
    y_c = np.repeat([0, 1], 30)
    z_c = centre[y_c] + rng.normal(0, 1, (60, 2))
    prelabel = y_c.copy()
    prelabel[:4] = 1  # four pre-labels that contradict their neighbourhood
    z_c[10] = z_d[5]  # a near-duplicate of an item already in D
    z_c[20] = [40.0, -40.0]  # far from everything
    proba = np.eye(2)[prelabel][None] * 0.9 + 0.05
    method = BasicFilter()
    method.committee_ = Committee(proba, z_c.astype(np.float32), z_d.astype(np.float32),
                                  proba[:, :0])
    dataset = Split(z_d, y_d, np.zeros(120), {"item": np.array([f"seed:{i}" for i in range(120)])})
    view = _view(dataset)
    kept = method.unverified(np.arange(60), None, view)
    dropped = set(range(60)) - set(kept.tolist())
    assert {10, 20} <= dropped and len(dropped & {0, 1, 2, 3}) >= 2 and len(dropped) <= 10
    assert view.log["filter/label_issue"] >= 2 / 60 and view.log["filter/outlier"] > 0


def test_uncertainty_labels_the_least_certain_real_items_first(toy, resources, tmp_path) -> None:
    method = METHODS.get("uncertainty")()
    result, ledger = _run(toy, resources, "uncertainty", tmp_path, budget=4.0, rounds=1,
                          method=method)
    assert {a.action for a in ledger.entries} == {"label"} and len(ledger.entries) == 4
    assert not any(a.item.startswith("synth:") for a in ledger.entries)
    # the same committee and view, in full: the four bought are the four least certain
    from benchmark.construction.assist import committee
    from benchmark.construction.items import RunItems
    from benchmark.construction.loop import Construction, Round, seed_dataset, views
    from tests.test_methods import COSTS

    items = RunItems(toy["seed"], toy["pool"], resources, 0)
    round_ = Round(1, 4.0, items.pool_candidates(set()), np.random.default_rng([0, 1]))
    view = views(round_, Construction(seed_dataset(items.seed)), items, toy["val"],
                 toy.n_classes, COSTS)()
    found = committee(view, view.pool, 5)
    p = found.mean
    entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(axis=1)
    top = set(view.pool.items[np.argsort(-entropy)[:4]].tolist())
    assert {a.item for a in ledger.entries} == top


def test_assisted_labelling_verifies_the_committees_prelabel(toy, resources, tmp_path) -> None:
    """A pre-label people accept costs a verify: more true labels than labelling from scratch
    buys with the same budget, and never more spent."""
    plain, _ = _run(toy, resources, "uncertainty", tmp_path / "plain", budget=4.0, rounds=1)
    assisted, ledger = _run(toy, resources, "uncertainty", tmp_path / "assisted", budget=4.0,
                            rounds=1, method=METHODS.get("uncertainty")(assist=True))
    assert {a.action for a in ledger.entries} == {"verify"}
    assert all(a.label == toy["pool"].y[int(a.item[5:])] for a in ledger.entries)
    assert len(assisted.dataset) > len(plain.dataset) and assisted.cost <= 4.0 + 1e-9


def test_adaptive_pseudo_labels_confident_real_items_nobody_answered(toy, resources,
                                                                     tmp_path) -> None:
    method = METHODS.get("adaptive")(pseudo_label=True, pseudo_precision=0.9)
    result, ledger = _run(toy, resources, "adaptive", tmp_path, budget=6.0, rounds=1,
                          method=method)
    origin = result.dataset.meta["origin"]
    pseudo = set(result.dataset.meta["item"][origin == "pseudo"].tolist())
    assert any(item.startswith("pool:") for item in pseudo)
    assert not pseudo & {a.item for a in ledger.entries}
    assert result.rounds[0]["method/pseudo_threshold"] <= 1.0
