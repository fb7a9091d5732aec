import json

from benchmark.annotation import Annotation, Ledger, SimulatedAnnotator


def _a(item: str, round_: int = 1) -> Annotation:
    return Annotation(item, "label", 1, 1.0, round_, "sim")


def test_entries_survive_reopening(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "fp").append([_a("pool:1"), _a("pool:2")])
    again = Ledger(path, "fp")
    assert [a.item for a in again.entries] == ["pool:1", "pool:2"]
    assert again.total_cost == 2.0


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


def test_other_fingerprint_moves_old_ledger_aside(tmp_path) -> None:
    path = tmp_path / "ledger.jsonl"
    Ledger(path, "old").append([_a("pool:1")])
    fresh = Ledger(path, "new")
    assert fresh.entries == []
    stale = tmp_path / "ledger.jsonl.stale"
    assert "pool:1" in stale.read_text()


def test_annotator_never_charges_twice(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.jsonl", "fp")
    annotator = SimulatedAnnotator({"pool:0": 2, "pool:1": 0}, 3, ledger, cost_label=2.5)
    first = annotator.label(["pool:0"], 1)
    both = annotator.label(["pool:0", "pool:1"], 2)
    assert [a.label for a in both] == [2, 0] and first[0] == both[0]
    assert ledger.total_cost == 5.0 and len(ledger.entries) == 2


def test_error_rate_flips_about_that_share_deterministically(tmp_path) -> None:
    truth = {f"pool:{i}": i % 4 for i in range(2000)}
    answers = []
    for k in range(2):
        ledger = Ledger(tmp_path / f"l{k}.jsonl", "fp")
        annotator = SimulatedAnnotator(truth, 4, ledger, error_rate=0.2, seed=7)
        answers.append([a.label for a in annotator.label(list(truth), 1)])
    wrong = sum(a != truth[i] for a, i in zip(answers[0], truth, strict=True)) / len(truth)
    assert answers[0] == answers[1]
    assert 0.17 < wrong < 0.23
