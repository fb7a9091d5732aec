import json

import numpy as np
import pytest

from benchmark.annotation import Annotation, Ledger, LedgerError, Request, SimulatedAnnotator

COSTS = {"label": 1.0, "verify": 0.4, "reject": 0.2}


def _a(item: str, round_: int = 1, action: str = "label") -> Annotation:
    return Annotation(item, action, 1, COSTS[action], round_, "sim")


def test_entries_survive_reopening(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "fp").append([_a("pool:1"), _a("pool:2", action="verify")])
    again = Ledger(path, "fp")
    assert [a.key for a in again.entries] == [("pool:1", "label"), ("pool:2", "verify")]
    assert again.total_cost == 1.4


def test_line_cut_short_by_a_crash_is_dropped(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "fp").append([_a("pool:1")])
    with path.open("ab") as fh:
        fh.write(b'{"action": "label", "item": "po')  # killed mid-write
    again = Ledger(path, "fp")
    assert [a.item for a in again.entries] == ["pool:1"]
    again.append([_a("pool:3")])
    lines = path.read_text().splitlines()
    assert [json.loads(line).get("item") for line in lines] == [None, "pool:1", "pool:3"]


def test_complete_record_without_its_newline_is_not_padded_or_merged(tmp_path) -> None:
    """A record whose newline never reached the disk is a torn write: it is cut, and the next
    record starts on a line of its own (a NUL pad once merged them and lost later records).
    """
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "fp").append([_a(f"pool:{i}") for i in range(3)])
    path.write_bytes(path.read_bytes()[:-1])  # the last record lost only its newline
    again = Ledger(path, "fp")
    assert [a.item for a in again.entries] == ["pool:0", "pool:1"]
    assert b"\x00" not in path.read_bytes()
    again.append([_a("pool:9")])
    reopened = Ledger(path, "fp")
    assert [a.item for a in reopened.entries] == ["pool:0", "pool:1", "pool:9"]


def test_unreadable_record_before_readable_ones_is_damage(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "fp").append([_a("pool:0"), _a("pool:1")])
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(LedgerError, match="line 2 is unreadable"):
        Ledger(path, "fp")
    assert b"pool:1" in path.read_bytes()  # nothing was cut


def test_other_fingerprint_moves_old_ledger_aside(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "old").append([_a("pool:1")])
    fresh = Ledger(path, "new")
    assert fresh.entries == []
    stale = tmp_path / "ledger.jsonl.stale"
    assert not stale.exists() and "pool:1" in path.read_text()  # nothing recorded yet
    fresh.append([_a("pool:2")])
    assert "pool:1" in stale.read_text() and "pool:1" not in path.read_text()
    Ledger(path, "newer").start()  # a run that buys nothing owns its ledger when done
    assert "pool:2" in (tmp_path / "ledger.jsonl.stale.1").read_text()


def _review(annotator, requests, round_=1, synthetic=None):
    n = len(requests)
    syn = np.zeros(n, bool) if synthetic is None else np.asarray(synthetic)
    return annotator.review(requests, np.zeros((n, 2), np.float32), syn, round_)


def test_each_action_costs_its_price_and_is_never_charged_twice(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl", "fp")
    annotator = SimulatedAnnotator({"pool:0": 2, "pool:1": 0}, 3, ledger, COSTS)
    first = _review(annotator, [Request("pool:0", "label")])
    both = _review(annotator, [Request("pool:0", "label"), Request("pool:1", "verify", 0)], 2)
    assert [a.label for a in both] == [2, 0] and first[0] == both[0]
    assert both[1].outcome == "accepted" and both[1].cost == 0.4
    wrong = _review(annotator, [Request("pool:0", "verify", 1)], 3)[0]
    assert (wrong.outcome, wrong.label, wrong.cost) == ("corrected", 2, 1.0)  # a label's price
    assert ledger.total_cost == pytest.approx(2.4) and len(ledger.entries) == 3


class _Judge:
    """A fixed judge: class = round(x[0]), realistic when x[1] == 0."""

    def review(self, x):
        return np.rint(x[:, 0]).astype(int), x[:, 1] == 0


def test_synthetic_items_are_judged_and_can_be_rejected(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl", "fp")
    annotator = SimulatedAnnotator({}, 3, ledger, COSTS, judge=_Judge())
    requests = [Request("synth:1:0", "verify", 2), Request("synth:1:1", "verify", 0),
                Request("synth:1:2", "label"), Request("synth:1:3", "reject")]
    x = np.array([[2, 0], [1, 0], [0, 5], [1, 0]], np.float32)
    answers = annotator.review(requests, x, np.ones(4, bool), 1)
    assert [a.outcome for a in answers] == ["accepted", "corrected", "rejected", "kept"]
    assert [a.label for a in answers] == [2, 1, -1, -1]
    # accepted 0.4, corrected = a label 1.0, a label rejected as unrealistic 1.0, kept 0.2
    assert [a.cost for a in answers] == [0.4, 1.0, 1.0, 0.2]
    with pytest.raises(ValueError, match="cannot be rejected"):
        _review(annotator, [Request("pool:0", "reject")])


def test_error_rate_flips_about_that_share_deterministically(tmp_path) -> None:
    truth = {f"pool:{i}": i % 4 for i in range(2000)}
    answers = []
    for k in range(2):
        ledger = Ledger(tmp_path / f"l{k}.jsonl", "fp")
        annotator = SimulatedAnnotator(truth, 4, ledger, COSTS, error_rate=0.2, seed=7)
        answers.append([a.label for a in _review(annotator, [Request(i, "label")
                                                             for i in truth])])
    wrong = sum(a != truth[i] for a, i in zip(answers[0], truth, strict=True)) / len(truth)
    assert answers[0] == answers[1]
    assert 0.17 < wrong < 0.23


def test_answer_store_cuts_a_torn_write_and_refuses_damage(tmp_path) -> None:
    from benchmark.annotation.store import AnswerStore

    store = AnswerStore(tmp_path / "d.jsonl")
    first = Annotation("pool:0", "label", 1, 1.0, 1, "p", digest="aa")
    assert store.add([first, Annotation("pool:1", "label", 0, 1.0, 1, "p")]) == 1  # no digest
    assert store.add([first]) == 0  # the same answer again: nothing new
    with store.path.open("ab") as fh:
        fh.write(b'{"digest": "bb", "act')  # a crash mid-write
    assert list(store.answers()) == [("aa", "label", -1)]
    assert store.add([Annotation("pool:2", "verify", 2, 0.4, 1, "p", "accepted", 2, "cc")]) == 1
    assert sorted(store.answers()) == [("aa", "label", -1), ("cc", "verify", 2)]
    store.path.write_text("garbage\n" + store.path.read_text())
    with pytest.raises(LedgerError, match=r"d\.jsonl: line 1 is not an answer record"):
        store.answers()


@pytest.mark.parametrize(("edit", "message"), [
    ({"label": 99}, r"line 2: label 99, expected -1 or a class index below 3"),
    ({"cost": -5.0}, r"line 2: cost -5.0, expected a non-negative number"),
    ({"cost": float("nan")}, r"line 2: cost nan, expected a non-negative number"),
    ({"action": "guess"}, r"line 2: action 'guess', expected one of"),
])
def test_a_record_that_is_no_answer_is_damage(tmp_path, edit, message) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "fp", 3).append([_a("pool:1"), _a("pool:2")])
    lines = path.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), **edit})
    path.write_text("\n".join(lines) + "\n")
    before = path.read_bytes()
    with pytest.raises(LedgerError, match=r"ledger\.jsonl: " + message):
        Ledger(path, "fp", 3)
    assert path.read_bytes() == before  # nothing cut, nothing moved aside
