"""Label Studio hand-off: queue files, tasks, configs and answers read back into the ledger,
on hand-built exports and through a real local Label Studio server (``slow``).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmark.annotate import main as annotate
from benchmark.annotation.labelstudio import (
    REJECT,
    AnswerError,
    export,
    from_export,
    image_png,
    import_answers,
    read_queue,
    write_queue,
)
from benchmark.annotation.ledger import NO_LABEL, Ledger, Request, price
from benchmark.data import DataFormatError

REPO = Path(__file__).resolve().parents[1]

CLASSES = ["c0", "c1", "c2"]
COSTS = {"label": 1.0, "verify": 0.4, "reject": 0.2}
SHAPES = {"image": (1, 16, 16), "sequence": (2, 12), "tabular": (5,)}
# (request, synthetic, answer given in Label Studio, expected outcome, expected label)
ROUND = [
    (Request("pool:0", "label"), False, "c2", "labelled", 2),
    (Request("pool:1", "verify", 1), False, "c1", "accepted", 1),
    (Request("synth:1:0", "verify", 0), True, "c2", "corrected", 2),
    (Request("synth:1:1", "reject"), True, REJECT, "rejected", NO_LABEL),
    (Request("synth:1:2", "reject"), True, "keep", "kept", NO_LABEL),
    (Request("synth:1:3", "label"), True, REJECT, "rejected", NO_LABEL),
    (Request("pool:2", "label"), False, None, None, None),  # nobody answered
]


def make_queue(path: Path, modality: str, rows: list = ROUND, fingerprint: str = "fp") -> Path:
    x = np.random.default_rng(0).normal(size=(len(rows), *SHAPES[modality]))
    write_queue(path, [r[0] for r in rows], x, np.array([r[1] for r in rows]), 1, fingerprint,
                modality, CLASSES)
    return path


def choice_result(choice: str) -> dict:
    return {"from_name": "answer", "to_name": "item", "type": "choices",
            "value": {"choices": [choice]}}


def ls_export(tasks: list[dict], answers: dict[str, str | None]) -> list[dict]:
    """Tasks as Label Studio's JSON export returns them: ids, data values as strings (as some
    Label Studio versions return them), one annotation per answered task.
    """
    out = []
    for task_id, task in enumerate(tasks, start=1):
        choice = answers[task["data"]["item"]]
        annotations = [] if choice is None else [{
            "id": task_id, "result": [choice_result(choice)], "was_cancelled": False,
            "created_at": "2026-01-01T10:00:00Z", "updated_at": "2026-01-01T10:00:00Z"}]
        data = {k: v if isinstance(v, dict | list) else str(v) for k, v in task["data"].items()}
        out.append({"id": task_id, "data": data, "annotations": annotations,
                    "predictions": task.get("predictions", [])})
    return out


def check_ledger(ledger: Ledger, rows: list, annotator: str = "human",
                 costs: dict[str, float] = COSTS) -> None:
    answered = [r for r in rows if r[2] is not None]
    got = ledger.lookup()
    assert sorted(got) == sorted(r[0].key for r in answered)
    for req, _, _, outcome, label in answered:
        entry = got[req.key]
        assert (entry.outcome, entry.label, entry.cost) == (
            outcome, label, price(req.action, outcome, costs))  # a correction costs a label
        assert (entry.round, entry.annotator, entry.proposed) == (1, annotator, req.proposed)


def test_queue_file_round_trip(tmp_path: Path) -> None:
    path = make_queue(tmp_path / "q.npz", "image")
    queue = read_queue(path)
    assert queue.requests == [r[0] for r in ROUND]
    assert queue.synthetic.tolist() == [r[1] for r in ROUND]
    assert queue.x.shape == (len(ROUND), 1, 16, 16) and queue.x.dtype == np.float32
    assert (queue.round, queue.fingerprint, queue.modality) == (1, "fp", "image")
    assert queue.class_names == CLASSES


def test_bad_queue_files_name_the_file_and_key(tmp_path: Path) -> None:
    np.savez(tmp_path / "partial.npz", item=np.array(["pool:0"]), action=np.array(["label"]))
    with pytest.raises(DataFormatError, match=r"partial\.npz.*'proposed' missing"):
        read_queue(tmp_path / "partial.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a queue")
    with pytest.raises(DataFormatError, match=r"junk\.npz"):
        read_queue(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="only synthetic items"):
        write_queue(tmp_path / "q.npz", [Request("pool:0", "reject")], np.zeros((1, 3)),
                    np.array([False]), 0, "fp", "tabular", CLASSES)


@pytest.mark.parametrize("modality", ["image", "sequence", "tabular"])
def test_file_round_trip(tmp_path: Path, modality: str) -> None:
    queue_path = make_queue(tmp_path / "q.npz", modality)
    tasks = export(queue_path, tmp_path / "tasks.json")
    assert json.loads((tmp_path / "tasks.json").read_text()) == tasks
    config = ET.fromstring((tmp_path / "label_config.xml").read_text())
    shown = {"image": "Image", "sequence": "TimeSeries", "tabular": "Table"}[modality]
    assert config.find(shown).get("name") == config.find("Choices").get("toName") == "item"
    if modality == "sequence":
        assert len(config.find("TimeSeries").findall("Channel")) == 2
        assert set(tasks[0]["data"]["series"]) == {"time", "ch0", "ch1"}
    by_item = {t["data"]["item"]: t for t in tasks}
    assert by_item["pool:1"]["predictions"][0]["result"] == [choice_result("c1")]
    assert "predictions" not in by_item["pool:0"]
    options = {i: [c["value"] for c in t["data"]["choices"]] for i, t in by_item.items()}
    assert options["pool:0"] == CLASSES and options["synth:1:3"] == [*CLASSES, REJECT]
    assert options["synth:1:1"] == ["keep", REJECT]

    (tmp_path / "export.json").write_text(json.dumps(ls_export(tasks, {
        r[0].item: r[2] for r in ROUND})))
    ledger = Ledger(tmp_path / "ledger.jsonl", "fp")
    assert import_answers(tmp_path / "export.json", queue_path, ledger, COSTS) == (6, 1, [])
    check_ledger(ledger, ROUND)
    total = ledger.total_cost
    assert import_answers(tmp_path / "export.json", queue_path, ledger, COSTS) == (0, 1, [])
    # labelled 1.0, accepted 0.4, corrected 1.0 (a label), rejected 0.2, kept 0.2, label 1.0
    assert ledger.total_cost == total == pytest.approx(1.0 + 0.4 + 1.0 + 0.2 + 0.2 + 1.0)
    check_ledger(Ledger(tmp_path / "ledger.jsonl", "fp"), ROUND)  # as written to disk


def test_latest_non_cancelled_annotation_counts(tmp_path: Path) -> None:
    rows = [(Request("pool:0", "label"), False, "c1", "labelled", 1)]
    queue = read_queue(make_queue(tmp_path / "q.npz", "tabular", rows))
    task = {"id": 7, "data": {"item": "pool:0", "action": "label"}, "annotations": [
        {"id": 1, "updated_at": "2026-01-01T10:00:00Z", "result": [choice_result("c0")]},
        {"id": 2, "updated_at": "2026-01-02T10:00:00Z", "result": [choice_result("c1")]},
        {"id": 3, "updated_at": "2026-01-03T10:00:00Z", "result": [choice_result("c2")],
         "was_cancelled": True}]}
    [answer] = from_export([task], queue, COSTS)
    assert (answer.label, answer.outcome) == (1, "labelled")
    assert from_export([{**task, "annotations": task["annotations"][2:]}], queue, COSTS) == []


@pytest.mark.parametrize(("data", "choice", "message"), [
    ({"item": "pool:0", "action": "label"}, "c9",
     r"task 1: answer 'c9' for pool:0 \(label\) is not allowed; expected one of \['c0', 'c1', "
     r"'c2'\]"),
    ({"item": "pool:1", "action": "verify"}, REJECT,
     r"task 1: .*\(a real item cannot be rejected\)"),
    ({"item": "synth:1:1", "action": "reject"}, "c0",
     r"task 1: .*expected one of \['keep', 'reject: unrealistic'\]"),
    ({"item": "pool:99", "action": "label"}, "c0",
     r"task 1: item 'pool:99' with action 'label' is not a request of queue"),
    ({"item": "pool:0", "action": "label", "round": "2"}, "c0",
     r"task 1: a task of round 2, but queue .* is round 1"),
])
def test_bad_answers_are_refused_naming_file_and_task(tmp_path: Path, data: dict, choice: str,
                                                      message: str) -> None:
    queue_path = make_queue(tmp_path / "q.npz", "tabular")
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps([{"id": 1, "data": data,
                                        "annotations": [{"result": [choice_result(choice)]}]}]))
    ledger = Ledger(tmp_path / "ledger.jsonl", "fp")
    with pytest.raises(AnswerError, match=re.escape(f"{export_path}: ") + message):
        import_answers(export_path, queue_path, ledger, COSTS)
    assert ledger.entries == []


def test_image_png_is_min_max_scaled_and_upscaled() -> None:
    grey = Image.open(io.BytesIO(image_png(np.arange(256.0).reshape(1, 16, 16) - 7)))
    assert (grey.size, grey.mode, grey.getextrema()) == ((128, 128), "L", (0, 255))
    assert grey.getpixel((7, 7)) == grey.getpixel((0, 0)) != grey.getpixel((8, 0))
    assert Image.open(io.BytesIO(image_png(np.zeros((3, 16, 16))))).mode == "RGB"
    two = Image.open(io.BytesIO(image_png(np.ones((2, 16, 16)))))
    assert two.size == ((16 * 2 + 1) * 8, 128)  # channels side by side, one-cell gap


def test_cli_round_trip_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    queue_path = make_queue(tmp_path / "q.npz", "image")
    annotate(["export", str(queue_path), str(tmp_path / "tasks.json"), "--media",
              str(tmp_path / "media")])
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=media/pool_0.png"
    assert len(list((tmp_path / "media").glob("*.png"))) == len(ROUND)
    (tmp_path / "export.json").write_text(json.dumps(ls_export(tasks, {
        r[0].item: r[2] for r in ROUND})))
    Ledger(tmp_path / "ledger.jsonl", "fp").start()
    params = tmp_path / "params.yaml"  # the run's prices, never the command line's
    params.write_text((REPO / "params.yaml").read_text().replace(
        "costs: {label: 1.0, verify: 0.4, reject: 0.2}",
        "costs: {label: 2.0, verify: 0.5, reject: 0.25}"))
    args = ["import", str(tmp_path / "export.json"), str(queue_path),
            str(tmp_path / "ledger.jsonl"), "--params", str(params), "--annotator", "ann"]
    annotate(args)
    assert "added 6 answers" in capsys.readouterr().out
    check_ledger(Ledger(tmp_path / "ledger.jsonl", "fp"), ROUND, "ann",
                 {"label": 2.0, "verify": 0.5, "reject": 0.25})
    with pytest.raises(SystemExit):  # the prices' options are gone
        annotate([*args, "--cost-label", "-5"])

    other = make_queue(tmp_path / "other.npz", "image", fingerprint="another run")
    with pytest.raises(SystemExit, match=r"^error: .*ledger\.jsonl belongs to run fp"):
        annotate([*args[:2], str(other), *args[3:]])
    with pytest.raises(SystemExit, match=r"^error: .*missing\.npz"):
        annotate([*args[:2], str(tmp_path / "missing.npz"), *args[3:]])
    assert len(Ledger(tmp_path / "ledger.jsonl", "fp").entries) == 6  # not moved aside


# --- live: a real Label Studio server on 127.0.0.1 -----------------------------------------

TOKEN = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, a throwaway local token


def label_studio_bin() -> str:
    """The ``label-studio`` executable: ``$LABEL_STUDIO_BIN``, on PATH or beside this python.

    It lives in its own environment because it pins numpy below this project's numpy.
    """
    beside = Path(sys.executable).with_name("label-studio")
    own = Path(__file__).resolve().parents[1] / ".venv-labelstudio/bin/label-studio"
    found = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio") or next(
        (str(p) for p in (own, beside) if p.exists()), None)
    if found is None:
        pytest.fail("Label Studio is not installed: run the tests with `bash scripts/test.sh`, "
                    "which makes its venv (.venv-labelstudio) once")
    return found


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory):
    """A Label Studio server on a free local port, stopped (with its children) afterwards."""
    data = tmp_path_factory.mktemp("label_studio")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "LATEST_VERSION_CHECK": "false"}
    command = [label_studio_bin(), "start", "--no-browser", "--data-dir", str(data),
               "--internal-host", "127.0.0.1", "--port", str(port), "--username",
               "bench@example.com", "--password", "bench-password", "--user-token", TOKEN,
               "--enable-legacy-api-token"]
    with (data / "server.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, server, data / "server.log")
        yield base
    finally:
        stop(server)


def wait_healthy(base: str, server: subprocess.Popen, log: Path, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"Label Studio exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                if json.loads(response.read()).get("status") == "UP":
                    return
        except (OSError, ValueError):
            pass
        time.sleep(2)
    pytest.fail(f"Label Studio not healthy after {limit:.0f} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    """Terminate the server's whole process group; kill it if it does not go in time."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # children (if any) leave with the group
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(server.pid, signal.SIGKILL)


def api(base: str, method: str, path: str, body: object = None) -> object:
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as err:
        raise AssertionError(f"{method} {path}: {err.code} {err.read()[:1000]!r}") from err


@pytest.mark.slow
def test_live_label_studio_round_trip(tmp_path: Path, label_studio: str) -> None:
    rows = [
        (Request("pool:0", "label"), False, "c2", "labelled", 2),
        (Request("pool:1", "verify", 1), False, "c1", "accepted", 1),
        (Request("pool:2", "verify", 0), False, "c2", "corrected", 2),
        (Request("synth:1:0", "verify", 1), True, REJECT, "rejected", NO_LABEL),
        (Request("synth:1:1", "reject"), True, "keep", "kept", NO_LABEL),
        (Request("synth:1:2", "label"), True, None, None, None),
    ]
    queue_path = make_queue(tmp_path / "q.npz", "image", rows)
    export(queue_path, tmp_path / "tasks.json")
    project = api(label_studio, "POST", "/api/projects", {
        "title": "round 1", "label_config": (tmp_path / "label_config.xml").read_text()})
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    imported = api(label_studio, "POST",
                   f"/api/projects/{project['id']}/import?return_task_ids=true", tasks)
    assert (imported["task_count"], imported["prediction_count"]) == (6, 3)
    for task_id, (_, _, choice, _, _) in zip(imported["task_ids"], rows, strict=True):
        if choice is not None:
            api(label_studio, "POST", f"/api/tasks/{task_id}/annotations/",
                {"result": [choice_result(choice)], "was_cancelled": False})
    downloaded = api(label_studio, "GET", f"/api/projects/{project['id']}/export"
                     "?exportType=JSON&download_all_tasks=true")
    predicted = {t["data"]["item"] for t in downloaded if t["total_predictions"]}
    assert predicted == {r[0].item for r in rows if r[0].action == "verify"}
    (tmp_path / "export.json").write_text(json.dumps(downloaded))
    ledger = Ledger(tmp_path / "ledger.jsonl", "fp")
    assert import_answers(tmp_path / "export.json", queue_path, ledger, COSTS) == (5, 1, [])
    check_ledger(ledger, rows)
    assert import_answers(tmp_path / "export.json", queue_path, ledger, COSTS) == (0, 1, [])
    assert ledger.total_cost == pytest.approx(1.0 + 0.4 + 1.0 + 0.4 + 0.2)  # a correction: 1.0


def test_answers_outlive_every_change_of_the_run(tmp_path: Path, capsys) -> None:
    """People's answers go to the domain's store as well as the run's ledger: three fingerprint
    changes (one a revert) move three ledgers aside, none overwritten, and each new run replays
    every answer from the store, charged as bought, asking people nothing. A person's later
    correction is kept and used by the next run, and said so, never dropped.
    """
    from benchmark.annotation.human import AwaitingAnswers, HumanAnnotator
    from benchmark.annotation.store import AnswerStore

    rows = [r for r in ROUND if r[2] is not None]
    requests = [r[0] for r in rows]
    x = np.random.default_rng(0).normal(size=(len(rows), *SHAPES["tabular"]))
    synthetic = np.array([r[1] for r in rows])
    store, queue = tmp_path / "answers" / "d.jsonl", tmp_path / "run" / "queue.npz"

    def ask(fingerprint: str) -> tuple[Ledger, list]:
        ledger = Ledger(tmp_path / "run" / "ledger.jsonl", fingerprint)
        human = HumanAnnotator(ledger, COSTS, queue, "tabular", CLASSES, store)
        return ledger, human.review(requests, x, synthetic, 1)

    with pytest.raises(AwaitingAnswers, match=f"{len(rows)} requests wait"):
        ask("fp1")
    tasks = export(queue, tmp_path / "tasks.json")
    (tmp_path / "export.json").write_text(json.dumps(ls_export(tasks, {
        r[0].item: r[2] for r in rows})))
    ledger = Ledger(tmp_path / "run" / "ledger.jsonl", "fp1")
    assert import_answers(tmp_path / "export.json", queue, ledger, COSTS)[:2] == (len(rows), 0)
    paid = ledger.total_cost
    for fingerprint in ("fp2", "fp1", "fp3"):  # a change, its revert, another change
        ledger, answers = ask(fingerprint)
        check_ledger(ledger, rows)
        assert ledger.total_cost == pytest.approx(paid)  # charged as if bought
    aside = sorted(p.name for p in (tmp_path / "run").glob("ledger.jsonl.stale*"))
    assert aside == ["ledger.jsonl.stale", "ledger.jsonl.stale.1", "ledger.jsonl.stale.2"]
    for name in aside:  # every answer still on disk, in every ledger moved aside
        lines = (tmp_path / "run" / name).read_text().splitlines()[1:]
        assert sorted(json.loads(line)["item"] for line in lines) == sorted(
            r.item for r in requests)
    assert len(AnswerStore(store).answers()) == len(rows)

    # a person corrects pool:0 (c2 -> c0) after the run used c2: kept, said, used next time
    ledger, _ = ask("fp1")  # the queue's own run again
    (tmp_path / "export.json").write_text(json.dumps(ls_export(tasks, {
        r[0].item: "c0" if r[0].item == "pool:0" else r[2] for r in rows})))
    annotate(["import", str(tmp_path / "export.json"), str(queue),
              str(tmp_path / "run" / "ledger.jsonl"), "--params", str(REPO / "params.yaml")])
    assert "1 answers differ from those the run already used and paid (pool:0 (label))" in (
        capsys.readouterr().out)
    assert ledger.lookup()[("pool:0", "label")].label == 2  # the run keeps what it paid for
    ledger, answers = ask("fp4")
    assert {a.item: a.label for a in answers}["pool:0"] == 0


@pytest.mark.parametrize(("task", "message"), [
    ("pool:0", r"task #1 is a str, expected an object"),
    ({"id": 4, "data": ["pool:0"]}, r"task 4: data is a list, expected an object"),
    ({"id": 4, "data": {"item": "pool:0", "action": "label"}, "annotations": "c1"},
     r"task 4: annotations must be a list of objects, got str"),
    ({"id": 4, "data": {"item": "pool:0", "action": "label"}, "annotations": [
        {"id": 1, "updated_at": "2026-01-01T10:00:00Z", "result": [choice_result("c0")]},
        {"id": 2, "updated_at": 1767261600, "result": [choice_result("c1")]}]},
     r"task 4: annotation 2: updated_at must be a timestamp string"),
    ({"id": 4, "data": {"item": "pool:0", "action": "label"}, "annotations": [{"result": [
        {**choice_result("c0"), "value": ["c0"]}]}]}, r"task 4: value must be an object"),
    ({"id": 4, "data": {"item": "pool:0", "action": "label"}, "annotations": [{"result": [
        {**choice_result("c0"), "value": {"choices": ["c0", "c1"]}}]}]},
     r"task 4: 2 choices \['c0', 'c1'\] on a single-choice question"),
])
def test_malformed_exports_name_the_task(tmp_path: Path, task: object, message: str) -> None:
    queue_path = make_queue(tmp_path / "q.npz", "tabular")
    export_path = tmp_path / "export.json"
    export_path.write_text(json.dumps([task]))
    ledger = Ledger(tmp_path / "ledger.jsonl", "fp")
    with pytest.raises(AnswerError, match=re.escape(f"{export_path}: ") + message):
        import_answers(export_path, queue_path, ledger, COSTS)
    assert ledger.entries == []
