"""The sealed protocol against a hostile method author: one test per way of scoring better
without paying. Each attempt is refused with an error naming the method, or has no effect on
D, the cost or any metric.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.annotation import Annotation, Request
from benchmark.annotation.ledger import price, worst_price
from benchmark.construction.loop import MethodError, ProtocolError, StateError
from benchmark.method import Candidates, Method, Pseudo, RoundView, label_requests
from tests.test_methods import COSTS, _run

HOSTILE = "method 'hostile'"


class _Hostile(Method):
    """Labels two pool items a round (and verifies two generated ones, ``synthetic``); once it
    has decided, ``act(method, view, cands)`` does the hostile thing at ``where`` (propose,
    select or incorporate), to the view or to the objects it built or returned.
    """

    name = "hostile"

    def __init__(self, act=None, where: str = "propose", synthetic: bool = False) -> None:
        self.act, self.where, self.synthetic = act, where, synthetic
        self.views: list[RoundView] = []

    def _maybe(self, where: str, view: RoundView, cands: Candidates) -> None:
        self.views.append(view)
        if self.act is not None and where == self.where:
            self.act(self, view, cands)

    def propose(self, view):
        self.batch = view.generate(2, np.array([0, 1]), None) if self.synthetic else None
        cands = view.pool if self.batch is None else Candidates.concat([view.pool, self.batch])
        self._maybe("propose", view, cands)
        return cands

    def select(self, cands, view):
        synthetic = np.flatnonzero(cands.synthetic)
        requests = (label_requests(cands, synthetic, "verify", cands.meta["target_label"])
                    + label_requests(cands, np.flatnonzero(~cands.synthetic)[:2]))
        self._maybe("select", view, cands)
        return requests

    def incorporate(self, view, cands, answers):
        self._maybe("incorporate", view, cands)
        return None


def _same_outcome(a, b) -> None:
    """Same D (items, inputs, labels, groups, provenance), same cost, same round metrics."""
    for key in ("item", "origin", "source", "action"):
        np.testing.assert_array_equal(a.dataset.meta[key], b.dataset.meta[key])
    np.testing.assert_array_equal(a.dataset.x, b.dataset.x)
    np.testing.assert_array_equal(a.dataset.y, b.dataset.y)
    np.testing.assert_array_equal(a.dataset.group, b.dataset.group)
    assert a.cost == b.cost
    for log_a, log_b in zip(a.rounds, b.rounds, strict=True):
        keys = {k for k in log_a if not k.startswith("method/")}
        assert {k: log_a[k] for k in keys} == {k: log_b[k] for k in keys}


def _writable(array: np.ndarray) -> np.ndarray:
    """What a determined method does to a read-only copy: make it writable again."""
    array.setflags(write=True)
    return array


# --------------------------------------------------------------------------- free oracle


@pytest.mark.parametrize("name", ["resources", "judge", "annotator", "card", "paths",
                                  "truth", "ledger"])
def test_the_judge_and_annotator_are_out_of_reach(name, toy, resources, tmp_path) -> None:
    def reach(method, view, cands):
        getattr(view, name)

    with pytest.raises(MethodError, match=f"{HOSTILE}.*'{name}' is not in a method's view"):
        _run(toy, resources, "hostile", tmp_path, method=_Hostile(reach))


# --------------------------------------------------------------------------- budget, prices, round


@pytest.mark.parametrize(("where", "edit"), [
    ("propose", lambda m, v, c: setattr(v, "budget", 1e9)),
    ("select", lambda m, v, c: v.costs.__setitem__("label", 0.0)),
    ("incorporate", lambda m, v, c: setattr(v, "round", -1)),
])
def test_budget_prices_and_round_cannot_be_edited(where, edit, toy, resources, tmp_path) -> None:
    with pytest.raises(MethodError, match=HOSTILE):
        _run(toy, resources, "hostile", tmp_path, method=_Hostile(edit, where))


class _Greedy(_Hostile):
    """Forces a huge budget and free labels into its view, then asks for 40 labels a round."""

    def select(self, cands, view):
        object.__setattr__(view, "budget", 1e9)
        object.__setattr__(view, "costs", {"label": 0.0, "verify": 0.0, "reject": 0.0})
        object.__setattr__(view, "round", -1)
        return label_requests(cands, np.arange(len(cands)))

    def propose(self, view):
        return view.pool


def test_a_forced_budget_buys_nothing_more(toy, resources, tmp_path) -> None:
    result, ledger = _run(toy, resources, "hostile", tmp_path, method=_Greedy())
    assert ledger.total_cost == result.cost == 12.0  # the loop's budget and prices, not the view's
    assert len(ledger.entries) == 12 and {a.cost for a in ledger.entries} == {1.0}
    assert [r["cost"] for r in result.rounds] == [4.0, 4.0, 4.0]


# --------------------------------------------------------------------------- in-place edits


def _edit_pool(method, view, cands):
    _writable(view.pool.x)[:] = 100.0
    _writable(view.pool.group)[:] = 7


def _edit_generated(method, view, cands):
    _writable(method.batch.x)[:] = 0.0
    _writable(method.batch.meta["target_label"])[:] = 2


def _edit_candidates(method, view, cands):
    _writable(cands.x)[:] = -5.0
    _writable(cands.meta["source"])[:] = "pool"
    if method.where != "propose":  # after select or the answers: ids no longer count
        _writable(cands.items)[:] = "pool:0"


def _edit_dataset(method, view, cands):
    _writable(view.dataset.y)[:] = 0
    _writable(view.dataset.x)[:] = 9.0
    _writable(view.dataset.meta["origin"])[:] = "human"


def _edit_val(method, view, cands):
    _writable(view.val.y)[:] = 0
    _writable(view.val.x)[:] = 0.0


def _edit_embeddings(method, view, cands):
    for split in ("seed", "pool", "val"):
        _writable(view.embeddings[split])[:] = 0.0
    _writable(view.embed(view.dataset.meta["item"]))[:] = 0.0
    _writable(view.embed(cands.items))[:] = 0.0


def _edit_patterns(method, view, cands):
    view.patterns.model[-1].cluster_centers_[:] = 0.0
    view.patterns.model[0].scale_[:] = 1e-9


def _edit_log(method, view, cands):
    view.log.update({"probe_val_acc": 1.0, "cost": -5.0, "coverage": 1.0})


EDITS = {"pool": _edit_pool, "generated batch": _edit_generated, "candidates": _edit_candidates,
         "D": _edit_dataset, "val": _edit_val, "embeddings": _edit_embeddings,
         "patterns": _edit_patterns, "log": _edit_log}


@pytest.mark.parametrize("where", ["propose", "select", "incorporate"])
@pytest.mark.parametrize("what", list(EDITS))
def test_in_place_edits_change_nothing(what, where, toy, resources, tmp_path) -> None:
    clean, _ = _run(toy, resources, "hostile", tmp_path / "clean",
                    method=_Hostile(synthetic=True))
    edited, _ = _run(toy, resources, "hostile", tmp_path / "edited",
                     method=_Hostile(EDITS[what], where, synthetic=True))
    _same_outcome(clean, edited)


def test_arrays_a_method_is_handed_refuse_writes(toy, resources, tmp_path) -> None:
    def write(method, view, cands):
        view.pool.x[0] = 1.0

    with pytest.raises(MethodError, match=f"{HOSTILE} failed in propose.*read-only"):
        _run(toy, resources, "hostile", tmp_path, method=_Hostile(write))


@pytest.mark.parametrize("edit", [
    lambda view: view.history[0]["outcomes"].__setitem__("labelled", 99),
    lambda view: view.history[0].__setitem__("cost", 0.0),
    lambda view: view.history[0]["human_eval"]["clusters"].clear(),
])
def test_history_is_a_read_only_copy(edit, toy, resources, tmp_path) -> None:
    def act(method, view, cands):
        if view.history:
            edit(view)

    clean, _ = _run(toy, resources, "hostile", tmp_path / "clean", method=_Hostile())
    with pytest.raises(MethodError, match=HOSTILE):
        _run(toy, resources, "hostile", tmp_path / "edited", method=_Hostile(act))
    assert clean.rounds[0]["outcomes"] == {"labelled": 2}


# --------------------------------------------------------------------------- test data


def test_the_view_holds_no_test_or_reference_data(toy, resources, tmp_path) -> None:
    spy = _Hostile(synthetic=True)
    _run(toy, resources, "hostile", tmp_path, method=spy)
    view = spy.views[-1]
    assert set(view.embeddings) == {"seed", "pool", "val"}
    with pytest.raises(KeyError, match="'test_id' are not in a method's view"):
        view.embeddings["test_id"]
    hidden = [toy[s].x for s in ("test_id", "test_shift", "reference")]
    hidden += [resources.embeddings[s] for s in ("test_id", "test_shift", "reference")]
    handed = [view.dataset.x, view.pool.x, view.val.x,
              *(view.embeddings[k] for k in view.embeddings)]
    for array in handed:
        for secret in hidden:
            if array.shape[1:] == secret.shape[1:]:
                same = (array[:, None] == secret[None]).reshape(len(array), len(secret), -1)
                assert not same.all(axis=2).any()
    for name in ("reference", "test_id", "test_shift", "paths", "card", "judge"):
        assert not hasattr(view, name)


# --------------------------------------------------------------------------- items


class _Proposer(_Hostile):
    """Proposes whatever ``items`` returns for the view."""

    def __init__(self, items) -> None:
        super().__init__()
        self.items = items

    def propose(self, view):
        return self.items(view)


@pytest.mark.parametrize(("case", "items"), [
    ("a val item", lambda v: Candidates(np.array(["val:0"]), v.val.x[:1], v.val.group[:1])),
    ("a seed item", lambda v: Candidates(np.array(["seed:0"]), v.dataset.x[:1],
                                         v.dataset.group[:1])),
    ("an item twice", lambda v: Candidates.concat([v.pool.subset([0]), v.pool.subset([0])])),
    ("an item of D, re-added to the pool", lambda v: Candidates.concat([v.pool, Candidates(
        v.dataset.meta["item"][-1:], v.dataset.x[-1:], v.dataset.group[-1:])])
        if v.round > 1 else v.pool),
    ("a generated item of an earlier round", lambda v: Candidates(
        np.array(["synth:1:0"]), v.pool.x[:1], v.pool.group[:1]) if v.round > 1 else
        Candidates.concat([v.pool, v.generate(1, 0)])),
])
def test_items_outside_the_round_are_refused(case, items, toy, resources, tmp_path) -> None:
    with pytest.raises(ProtocolError, match=HOSTILE):
        _run(toy, resources, "hostile", tmp_path, method=_Proposer(items))


class _Asker(_Hostile):
    """Asks what ``requests`` returns for the candidates."""

    def __init__(self, requests) -> None:
        super().__init__()
        self.requests = requests

    def select(self, cands, view):
        return self.requests(cands)


@pytest.mark.parametrize("requests", [
    lambda c: [Request("pool:999", "label")],
    lambda c: [Request(str(c.items[0]), "reject")],
    lambda c: [Request(str(c.items[0]), "verify", 7)],
    lambda c: ["pool:0"],
    lambda c: Request(str(c.items[0]), "label"),
])
def test_requests_outside_the_candidates_are_refused(requests, toy, resources, tmp_path) -> None:
    with pytest.raises(ProtocolError, match=HOSTILE):
        _run(toy, resources, "hostile", tmp_path, method=_Asker(requests))


def test_duplicate_requests_are_charged_once(toy, resources, tmp_path) -> None:
    method = _Asker(lambda c: label_requests(c, np.array([0, 0, 1, 1, 2])))
    result, ledger = _run(toy, resources, "hostile", tmp_path, budget=9, rounds=1, method=method)
    assert [a.item for a in ledger.entries] == ["pool:0", "pool:1", "pool:2"]
    assert result.cost == 3.0 and len(result.dataset) == len(toy["seed"]) + 3


def test_forged_inputs_are_replaced_by_the_loops_own_copy(toy, resources, tmp_path) -> None:
    forged = _Proposer(lambda v: Candidates(v.pool.items[:4], v.pool.x[:4] + 100.0,
                                            v.pool.group[:4] + 1))
    result, _ = _run(toy, resources, "hostile", tmp_path, budget=2, rounds=1, method=forged)
    added = result.dataset.subset(np.arange(len(toy["seed"]), len(result.dataset)))
    rows = [int(i.split(":")[1]) for i in added.meta["item"]]
    np.testing.assert_array_equal(added.x, toy["pool"].x[rows])
    np.testing.assert_array_equal(added.group, toy["pool"].group[rows])


def test_val_meta_is_hidden_from_methods(toy, resources, tmp_path) -> None:
    assert "pattern" in toy["val"].meta
    spy = _Hostile()
    _run(toy, resources, "hostile", tmp_path, budget=2, rounds=1, method=spy)
    assert dict(spy.views[0].val.meta) == {}


# --------------------------------------------------------------------------- pricing


def test_a_correction_costs_a_label() -> None:
    assert price("verify", "accepted", COSTS) == 0.4
    assert price("verify", "corrected", COSTS) == 1.0
    assert price("verify", "rejected", COSTS) == 0.4
    assert price("reject", "kept", COSTS) == 0.2 and price("label", "labelled", COSTS) == 1.0
    assert worst_price("verify", COSTS) == 1.0 and worst_price("reject", COSTS) == 0.2


class _WrongVerifier(_Hostile):
    """Verifies every pool item with proposal 0: a label nobody pays for, if corrections were
    priced as verifies.
    """

    def propose(self, view):
        return view.pool

    def select(self, cands, view):
        return label_requests(cands, np.arange(len(cands)), "verify", np.zeros(len(cands)))


def test_wrong_proposals_buy_no_cheap_labels(toy, resources, tmp_path) -> None:
    result, ledger = _run(toy, resources, "hostile", tmp_path, method=_WrongVerifier())
    corrected = [a for a in ledger.entries if a.outcome == "corrected"]
    accepted = [a for a in ledger.entries if a.outcome == "accepted"]
    assert corrected and accepted
    assert all(a.cost == 1.0 for a in corrected) and all(a.cost == 0.4 for a in accepted)
    assert result.cost == ledger.total_cost <= 12.0 + 1e-9
    true = toy["pool"].y
    assert all(a.label == true[int(a.item.split(":")[1])] for a in corrected)
    # every label it got beyond the ones the proposal guessed cost a full label
    assert len(corrected) <= 12 - 0.4 * len(accepted) + 1e-9


# --------------------------------------------------------------------------- crash and replay


class _Crash(RuntimeError):
    pass


class _Flaky(_Hostile):
    """Round 2, first attempt: buys labels and verifies, then raises in incorporate. On the
    resume (``changed``) it labels other items, and may pseudo-label those it bought before or
    regenerate its synthetic items with other contents.
    """

    def __init__(self, changed: str | None = None) -> None:
        super().__init__(synthetic=True)
        self.changed = changed

    def propose(self, view):
        pool = view.pool.subset(np.arange(6))
        label = np.array([0, 1]) if self.changed != "regenerate" else np.array([1, 0])
        return Candidates.concat([pool, view.generate(2, label, None)])

    def select(self, cands, view):
        real = np.flatnonzero(~cands.synthetic)
        pick = real[:2] if self.changed is None or view.round != 2 else real[2:4]
        synthetic = np.flatnonzero(cands.synthetic)
        return (label_requests(cands, synthetic, "verify", cands.meta["target_label"])
                + label_requests(cands, pick))

    def incorporate(self, view, cands, answers):
        if view.round == 2 and self.changed is None:
            raise _Crash
        if view.round == 2 and self.changed == "pseudo_old":
            return Pseudo(np.array([0, 1]), np.array([0, 0]))
        return None


def _crashed(toy, resources, path):
    with pytest.raises(MethodError, match="_Crash"):
        _run(toy, resources, "hostile", path, method=_Flaky())


def test_answers_bought_before_a_crash_count_and_enter_d(toy, resources, tmp_path) -> None:
    _crashed(toy, resources, tmp_path)
    result, ledger = _run(toy, resources, "hostile", tmp_path, method=_Flaky("other"))
    assert result.cost == ledger.total_cost  # the unused answers are paid for
    round2 = [a for a in ledger.entries if a.round == 2]
    keys = [a.key for a in ledger.entries]
    assert len(keys) == len(set(keys))  # nothing bought twice
    assert result.rounds[1]["cost"] == pytest.approx(sum(a.cost for a in round2))
    origin = dict(zip(result.dataset.meta["item"], result.dataset.meta["origin"], strict=True))
    for item in ("pool:0", "pool:1", "pool:2", "pool:3"):  # before and after the crash
        assert any(a.item == item for a in round2) or origin.get(item) == "human"
    assert all(origin[a.item] == "human" for a in round2 if a.gives_label)


def test_a_paid_item_cannot_be_pseudo_labelled_after_a_crash(toy, resources, tmp_path) -> None:
    _crashed(toy, resources, tmp_path)
    with pytest.raises(ProtocolError, match=f"{HOSTILE} pseudo-labelled 'pool:.*a person"):
        _run(toy, resources, "hostile", tmp_path, method=_Flaky("pseudo_old"))


def test_a_replayed_answer_needs_the_same_contents(toy, resources, tmp_path) -> None:
    _crashed(toy, resources, tmp_path)
    with pytest.raises(ProtocolError, match=f"{HOSTILE} asked about 'synth:2:0' again"):
        _run(toy, resources, "hostile", tmp_path, method=_Flaky("regenerate"))


def test_a_damaged_state_is_refused_on_resume(toy, resources, tmp_path) -> None:
    from benchmark.construction.loop import load_state, save_state

    _crashed(toy, resources, tmp_path)
    state = load_state(tmp_path / "state.npz", "hostile-12.0-0")
    state.dataset.y[-1] = (state.dataset.y[-1] + 1) % toy.n_classes
    save_state(tmp_path / "state.npz", state, "hostile-12.0-0")
    with pytest.raises(StateError, match="state.npz: its dataset .y. is not what the ledger"):
        _run(toy, resources, "hostile", tmp_path, method=_Flaky("other"))


# --------------------------------------------------------------------------- state across cells


class _Memory:
    """A class attribute, as a method could keep between cells."""

    bought: list[str] = []


def _cell(method: str, seed: int) -> list[str]:
    seen = list(_Memory.bought)
    _Memory.bought.append(f"{method}/{seed}")
    return seen


def test_no_state_crosses_cells() -> None:
    from benchmark.stages import run_cells

    for workers in (1, 2):
        assert run_cells(_cell, [("a", 0), ("a", 1), ("b", 0)], workers) == [[], [], []]
    assert _Memory.bought == []  # nor reaches the stage process


def _failing_cell(name: str) -> str:
    if name == "bad":
        raise ValueError("cell bad failed")
    return name


def test_a_failing_cell_fails_the_stage_after_the_others_ran(tmp_path) -> None:
    from benchmark.stages import CellTraceback, run_cells

    with pytest.raises(ValueError, match="cell bad failed") as info:
        run_cells(_failing_cell, [("bad",), ("good",)], 1)
    assert isinstance(info.value.__cause__, CellTraceback)
    assert "_failing_cell" in str(info.value.__cause__)
    assert run_cells(_failing_cell, [("x",), ("y",)], 2) == ["x", "y"]


def test_answers_are_frozen_records() -> None:
    answer = Annotation("pool:0", "label", 1, 1.0, 1, "simulated")
    with pytest.raises(AttributeError):
        answer.cost = 0.0  # type: ignore[misc]


def test_a_redraw_brings_its_own_splits_and_keeps_the_upstream(toy, resources, tmp_path) -> None:
    """With a seed's own draw, a method sees that draw's embeddings, while the clusters and
    ``reference`` stay those of the domain's own draw."""
    from benchmark.construction.resources import Resources
    from benchmark.io import atomic_write_npz

    z = resources.embeddings
    drawn = {s: z[s] + 1.0 for s in ("seed", "pool", "val")}
    atomic_write_npz(tmp_path / "draw.npz", drawn)
    redrawn = Resources(resources.modality, resources.input_shape,
                        resources.paths["embeddings"], resources.paths["encoder"],
                        resources.paths["generator"], resources.paths["judge"],
                        resources.patterns_params, resources.sampling, tmp_path / "draw.npz")
    np.testing.assert_array_equal(redrawn.embeddings["pool"], drawn["pool"])
    np.testing.assert_array_equal(redrawn.embeddings["reference"], z["reference"])
    probe = z["pool"][:10]
    np.testing.assert_array_equal(redrawn.patterns.assign(probe), resources.patterns.assign(probe))
