"""A corpus of bad inputs, each run through the real entry point that should reject it.

Every case corrupts one input (a params value, a prepared split, a real-data file, a profile
name) in a throw-away copy of the project with the smoke profile applied and ``biomedical``
prepared, then runs the first stage that reads it, as a user would
(``python -m benchmark.stages.<stage> DOMAIN``, ``benchmark.annotate``).
The contract: a non-zero exit; stderr ends in one ``error: ...`` line naming the file, key or
path and what was expected; no Python traceback; and not a single file written or changed
(no ledger of a run that never started, no ``*.tmp``, no half-built model folder). Every
answer on disk before the case (ledgers, moved-aside ledgers, the answer store) is still there
after it. Cases that damage what ``construct`` reads run in a copy of the shared robotics
upstream with one cell already constructed, so a ledger of real answers is at stake.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.domains.tiny import write_heart, write_medmnist, write_weather
from tests.workspace import copy_project, copy_workspace, sh

Corrupt = Callable[[Path], None]
DELETE = object()  # a params value that removes the key
# no GPU, whatever the machine: the accelerator cases test the "none present" path everywhere
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "WANDB_MODE": "offline",
       "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke copy with ``biomedical`` prepared, corrupted afresh (as a copy) per case."""
    root = copy_project(tmp_path_factory.mktemp("bad-inputs"), "smoke")
    sh([sys.executable, "-m", "benchmark.stages.prepare", "biomedical"], root)
    return root


@pytest.fixture(scope="module")
def built(robotics_upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared robotics upstream with one cell constructed (scale_only, seed 0: verified
    pre-labels and synthetic items, so its ledger holds real answers)."""
    root = copy_workspace(robotics_upstream, tmp_path_factory.mktemp("bad-built") / "ws")
    sh([sys.executable, "-m", "benchmark.stages.construct", "robotics", "--method",
        "scale_only", "--seed", "0"], root)
    return root


# --------------------------------------------------------------------------- corruptions


def params(changes: dict[str, Any]) -> Corrupt:
    """Set (or, with :data:`DELETE`, remove) dotted keys of params.yaml."""
    def corrupt(ws: Path) -> None:
        path = ws / "params.yaml"
        raw = yaml.safe_load(path.read_text())
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            node = raw
            for key in parents:
                node = node.setdefault(key, {})
            if value is DELETE:
                del node[leaf]
            else:
                node[leaf] = value
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return corrupt


def text(rel: str, content: str | bytes | None) -> Corrupt:
    """Overwrite (or, with None, delete) one file of the workspace."""
    def corrupt(ws: Path) -> None:
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.unlink()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return corrupt


def truncate(rel: str) -> Corrupt:
    def corrupt(ws: Path) -> None:
        path = ws / rel
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return corrupt


def split(name: str, edit: Callable[[dict[str, np.ndarray]], None]) -> Corrupt:
    """Rewrite the prepared biomedical split ``name`` after ``edit`` changed its arrays, with
    plain ``np.savez`` (which, unlike the harness, pickles object arrays).
    """
    def corrupt(ws: Path) -> None:
        path = ws / "data" / "biomedical" / f"{name}.npz"
        with np.load(path) as npz:
            arrays = dict(npz)
        edit(arrays)
        np.savez(path, **arrays)
    return corrupt


def both(*steps: Corrupt) -> Corrupt:
    def corrupt(ws: Path) -> None:
        for step in steps:
            step(ws)
    return corrupt


def ledger_record(line: int, **values: Any) -> Corrupt:
    """Overwrite fields of one record of the built cell's ledger (a hand edit or damage)."""
    def corrupt(ws: Path) -> None:
        path = ws / CELL / "ledger.jsonl"
        lines = path.read_text().splitlines()
        lines[line - 1] = json.dumps({**json.loads(lines[line - 1]), **values})
        path.write_text("\n".join(lines) + "\n")
    return corrupt


def _export(task: object, ledger: bool = True) -> Corrupt:
    """A run's queue, its ledger (empty) and a Label Studio export holding ``task``."""
    def corrupt(ws: Path) -> None:
        from tests.test_labelstudio import make_queue

        make_queue(ws / "queue.npz", "tabular")  # fingerprint "fp"
        (ws / "export.json").write_text(json.dumps([task]))
        if ledger:
            (ws / "ledger.jsonl").write_text(json.dumps({"fingerprint": "fp", "ledger": 2}) + "\n")
    return corrupt


def _nan_x(arrays: dict[str, np.ndarray]) -> None:
    arrays["x"][3, 0, 0, 0] = np.nan


def _heart_with_text(ws: Path) -> None:
    folder = write_heart(ws / "raw" / "uci_heart_disease")
    path = folder / "processed.va.data"
    lines = path.read_text().splitlines()
    lines[4] = "abc" + lines[4][lines[4].index(","):]
    path.write_text("\n".join(lines) + "\n")


def _weather_with_text(ws: Path) -> None:
    path = write_weather(ws / "raw" / "weather.csv", days=400)
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = "warm"  # temp_max
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def _medmnist(ws: Path) -> None:
    write_medmnist(ws / "raw" / "breastmnist.npz", rgb=False, labels_2d=False)


WEATHER = {"domains.climate.source": "seattle_weather",
           "domains.climate.options.seattle_weather": {"shift": "winter",
                                                        "path": "raw/weather.csv"}}


# --------------------------------------------------------------------------- the corpus

PREPARE = ["benchmark.stages.prepare", "biomedical"]
PATTERNS = ["benchmark.stages.patterns", "biomedical"]
VAL, SEED, POOL = (f"data/biomedical/{s}.npz" for s in ("val", "seed", "pool"))
IMPORT = ["benchmark.annotate", "import", "export.json", "queue.npz", "ledger.jsonl", "--params",
          "params.yaml"]

CASES = [
    # params.yaml: syntax and shape (fail while reading, before any plugin loads)
    pytest.param(PREPARE, text("params.yaml", "grid: {seeds: [0\nconstruct: {budget: 4}\n"),
                 r"params\.yaml: line 2, column \d+: not valid YAML: expected ',' or ']'",
                 id="yaml-syntax-error"),
    pytest.param(PREPARE, text("params.yaml", "- just\n- a list\n"),
                 r"params\.yaml: expected a mapping at the top level, got list",
                 id="yaml-top-level-list"),
    pytest.param(PREPARE, text("params.yaml", None),
                 r"params\.yaml: params file not found", id="params-file-missing"),
    pytest.param(PREPARE, params({"construct.budgett": 5}),
                 r"params\.yaml: construct\.budgett: unknown key; expected one of \[",
                 id="unknown-key"),
    pytest.param(PREPARE, params({"profiles.smoke.construct.budget": DELETE}),
                 r"params\.yaml: profiles\.smoke: got \"no \['construct\.budget'\]\", expected "
                 r"the same keys in every profile", id="missing-key"),
    pytest.param(PREPARE, params({"construct.budget": 40}),
                 r"params\.yaml: construct\.budget: got 'set here and in profiles', expected only "
                 r"under profiles\.<profile>\.construct\.budget", id="scale-key-in-a-section"),
    pytest.param(PREPARE, params({"profile": "huge"}),
                 r"params\.yaml: profile: got 'huge', expected one of \['paper', 'quick', "
                 r"'smoke'\]", id="unknown-profile"),
    pytest.param(PREPARE, params({"profiles.smoke.construct.rounds": "two"}),
                 r"params\.yaml: profiles\.smoke\.construct\.rounds: got 'two', expected int",
                 id="wrong-type"),
    pytest.param(PREPARE, params({"profiles.smoke.construct.budget": -1}),
                 r"params\.yaml: profiles\.smoke\.construct\.budget: got -1\.0, expected a "
                 r"non-negative cost", id="negative-budget"),
    pytest.param(["benchmark.stages.construct", "biomedical"],
                 params({"profiles.smoke.grid.seeds": [-1]}),
                 r"params\.yaml: profiles\.smoke\.grid\.seeds: got \[-1\], expected non-negative "
                 r"integers", id="negative-seed"),
    pytest.param(PREPARE, params({"profiles.smoke.grid.seeds": [0, 0]}),
                 r"params\.yaml: profiles\.smoke\.grid\.seeds: got \[0, 0\], expected a non-empty "
                 r"list without", id="duplicate-seeds"),
    pytest.param(PREPARE, params({"profiles.smoke.domains.biomedical.sizes.val": 0}),
                 r"params\.yaml: profiles\.smoke\.domains\.biomedical\.sizes\.val: got 0, "
                 r"expected a positive", id="empty-split-size"),
    pytest.param(PREPARE, params({"profiles.smoke.patterns.top": 6}),
                 r"params\.yaml: profiles\.smoke\.patterns\.top: got 6, expected between 1 and "
                 r"k - 1 = 5", id="patterns-top-not-below-k"),
    pytest.param(PREPARE, params({"profiles.smoke.hardware.accelerator": "tpu2"}),
                 r"params\.yaml: profiles\.smoke\.hardware\.accelerator: got 'tpu2', expected "
                 r"one of 'auto'", id="unknown-accelerator"),
    # params.yaml: names of plugins, domains and methods
    pytest.param(PREPARE, params({"report.baseline": "nosuch"}),
                 r"params\.yaml: report\.baseline: got 'nosuch', expected 'strongest' or one of "
                 r"grid\.methods",
                 id="baseline-not-in-grid"),
    pytest.param(PREPARE, params({"grid.methods": ["random", "nosuch"]}),
                 r"params\.yaml: methods: unknown method 'nosuch'; valid names",
                 id="unknown-method"),
    pytest.param(PREPARE, params({"domains.biomedical.source": "nosuch"}),
                 r"params\.yaml: domains\.biomedical\.source: unknown domain source 'nosuch'",
                 id="unknown-domain-source"),
    pytest.param(PREPARE, params({"domains.biomedical.options.cells": {"imagesize": 16}}),
                 r"params\.yaml: domains\.biomedical\.options\.cells\.imagesize: unknown "
                 r"option of \w+; expected one of", id="unknown-source-option"),
    pytest.param(PREPARE, params({"grid.domains": ["biomedical", "nosuch"]}),
                 r"params\.yaml: grid\.domains: got 'nosuch', expected a domain with a section",
                 id="grid-domain-without-section"),
    # stage arguments
    pytest.param(["benchmark.stages.prepare", "nosuch"], None,
                 r"params\.yaml: domains\.nosuch: missing; expected a section for the domain",
                 id="prepare-unknown-domain"),
    pytest.param(["benchmark.stages.construct", "biomedical", "--method", "nosuch"], None,
                 r"--method nosuch: not in the grid; expected one of params\.yaml grid\.methods "
                 r"\[", id="construct-method-not-in-grid"),
    # real-data sources (prepare)
    pytest.param(PREPARE, both(_medmnist, params({
        "domains.biomedical.source": "medmnist",
        "domains.biomedical.options.medmnist.shift": "sideways"})),
        r"params\.yaml: domains\.biomedical\.options\.medmnist\.shift: got 'sideways', "
        r"expected one of \('contrast'", id="medmnist-bad-shift"),
    pytest.param(PREPARE, params({"domains.biomedical.source": "medmnist",
                                  "domains.biomedical.options.medmnist.path":
                                      "raw/nosuch/breastmnist.npz"}),
                 r"raw/nosuch/breastmnist\.npz: MedMNIST file not found; download "
                 r"breastmnist\.npz", id="medmnist-file-missing"),
    pytest.param(PREPARE, both(_heart_with_text, params({"domains.biomedical.source":
                                                          "uci_heart"})),
                 r"raw/uci_heart_disease/processed\.va\.data: expected 14 numeric columns .*"
                 r"could not convert string to float: 'abc'", id="uci-heart-non-numeric"),
    pytest.param(["benchmark.stages.prepare", "climate"], both(_weather_with_text,
                                                               params(WEATHER)),
                 r"raw/weather\.csv: column 'temp_max', data row 5: got 'warm', expected a "
                 r"number", id="weather-non-numeric"),
    pytest.param(["benchmark.stages.prepare", "climate"],
                 both(lambda ws: write_weather(ws / "raw" / "weather.csv", days=220),
                      params(WEATHER)),
                 r"params\.yaml: profiles\.smoke\.domains\.climate\.sizes: source "
                 r"'seattle_weather' \(raw/weather\.csv\) has too few items: seed \d+ of 60, "
                 r".*expected at least 20 per split", id="real-source-too-small"),
    # prepared splits (the first stage that reads them)
    pytest.param(PATTERNS, truncate(VAL),
                 r"data/biomedical/val\.npz: not a readable \.npz split file",
                 id="truncated-split"),
    pytest.param(PATTERNS, split("seed", lambda a: a.update(
        {"meta.pattern": np.array([{"p": 1}] * len(a["y"]), dtype=object)})),
        r"data/biomedical/seed\.npz: meta\.pattern: unreadable without unpickling .*expected "
        r"numbers or fixed-width strings", id="object-meta-column"),
    pytest.param(PATTERNS, split("val", lambda a: a["y"].__setitem__(5, 7)),
                 r"data/biomedical/val\.npz: y: labels must be 0\.\.\d, got 7",
                 id="label-out-of-range"),
    pytest.param(PATTERNS, split("seed", lambda a: a["group"].__setitem__(0, -1)),
                 r"data/biomedical/seed\.npz: group: group ids must be 0\.\.1, got -1",
                 id="negative-group"),
    pytest.param(PATTERNS, split("val", lambda a: a.update(group=a["group"] + 0.5)),
                 r"data/biomedical/val\.npz: group: expected integer ids, got dtype float64",
                 id="float-group-ids"),
    pytest.param(PATTERNS, split("seed", _nan_x),
                 r"data/biomedical/seed\.npz: x: inputs must be finite, got NaN or inf in 1 of "
                 r"\d+ items \(first: item 3\)", id="nan-inputs"),
    pytest.param(PATTERNS, split("pool", lambda a: a["x"].__setitem__((7, 1), np.nan)),
                 r"data/biomedical/pool\.npz: x: inputs must be finite", id="nan-in-pool"),
    pytest.param(PATTERNS, split("val", lambda a: a.update(
        {k: v[:0] for k, v in a.items()})),
        r"data/biomedical/val\.npz: x: expected at least 1 item, got 0", id="empty-split"),
    pytest.param(PATTERNS, split("val", lambda a: a.update(y=a["y"][:-1])),
                 r"data/biomedical/val\.npz: split column 'y' has \d+ rows, x has \d+",
                 id="misaligned-columns"),
    pytest.param(PATTERNS, text("data/biomedical/domain.json", "{\"name\": "),
                 r"data/biomedical/domain\.json: not a domain card written by prepare",
                 id="domain-card-corrupt"),
    pytest.param(PREPARE, params({"domains.biomedical.options.cells.image_size": 14}),
                 r"params\.yaml: domains\.biomedical: input size 14 is not a multiple of "
                 r"pretrain\.model\.image\.patch_size = 4", id="image-side-vs-patch"),
    pytest.param(PATTERNS, params({"profiles.smoke.patterns.k": 1000}),
                 r"params\.yaml: profiles\.smoke\.patterns\.k: got 1000, expected at most the 260 "
                 r"items of seed \+ pool in data/biomedical", id="patterns-k-above-items"),
    # hardware
    pytest.param(["benchmark.stages.train", "biomedical"],
                 params({"profiles.smoke.hardware.accelerator": "gpu"}),
                 r"params\.yaml: profiles\.smoke\.hardware\.accelerator: got 'gpu', but this "
                 r"machine has no such device; expected 'cpu' or 'auto'",
                 id="train-gpu-absent"),
    pytest.param(["benchmark.stages.generator"],
                 params({"profiles.smoke.hardware.accelerator": "cuda"}),
                 r"params\.yaml: profiles\.smoke\.hardware\.accelerator: got 'cuda', but this "
                 r"machine has no such device", id="generator-gpu-absent"),
    # the Label Studio bridge
    pytest.param(["benchmark.annotate", "export", "queue.npz", "tasks.json"], None,
                 r"queue\.npz: queue file not found; expected the queue\.npz", id="queue-missing"),
    pytest.param(["benchmark.annotate", "export", "queue.npz", "tasks.json"],
                 text("queue.npz", b"not an archive"),
                 r"queue\.npz: not a queue file", id="queue-garbage"),
    # outputs a stage wrote, damaged: the file and the command that rebuilds it
    pytest.param(["benchmark.stages.report"],
                 text("results/biomedical/seed_only/seed0/metrics.json", '{"test_id/ac'),
                 r"results/biomedical/seed_only/seed0/metrics\.json: not valid JSON .*; rebuild "
                 r"it with `dvc repro train@biomedical`", id="metrics-truncated"),
    # experiments
    pytest.param(["benchmark.experiment", "run", "../params"], None,
                 r"experiment name '\.\./params': expected letters, digits, '_' and '-' only",
                 id="experiment-name-outside"),
    pytest.param(["benchmark.experiment", "params", "baseline_comparison"],
                 text("experiments/baseline_comparison.yaml", "grid: {seeds: [0\n"),
                 r"experiments/baseline_comparison\.yaml: line \d+, column \d+: not valid YAML",
                 id="overlay-yaml-error"),
    pytest.param(["benchmark.experiment", "params", "listed"],
                 text("experiments/listed.yaml", "profiles: [smoke, quick]\n"),
                 r"experiments/listed\.yaml: profiles: got list, expected a mapping",
                 id="overlay-profiles-list"),
    # Label Studio import: a ledger that is not there, a malformed export, via the command
    pytest.param(IMPORT, _export("pool:0", ledger=False),
                 r"ledger\.jsonl: ledger not found; expected the ledger of the run that wrote "
                 r"the queue", id="import-ledger-missing"),
    pytest.param(IMPORT, _export("pool:0"), r"export\.json: task #1 is a str, expected an "
                 r"object", id="export-task-not-an-object"),
    pytest.param(IMPORT, _export({"id": 4, "data": {"item": "pool:0", "action": "label"},
                                  "annotations": "c1"}),
                 r"export\.json: task 4: annotations must be a list of objects, got str",
                 id="export-annotations-a-string"),
]

CELL = "runs/robotics/scale_only/seed0"
CONSTRUCT = ["benchmark.stages.construct", "robotics"]  # every cell: checked before any runs
RESUME = [*CONSTRUCT, "--method", "scale_only", "--seed", "0"]
BUILT = [  # in the shared robotics upstream with scale_only's cell constructed
    pytest.param(RESUME, ledger_record(2, label=99),
                 rf"{CELL}/ledger\.jsonl: line 2: label 99, expected -1 or a class index "
                 r"below 2; the ledger was edited or damaged", id="ledger-label-99"),
    pytest.param(RESUME, ledger_record(3, cost=-5.0),
                 rf"{CELL}/ledger\.jsonl: line 3: cost -5\.0, expected a non-negative number",
                 id="ledger-negative-cost"),
    pytest.param(CONSTRUCT, text("models/robotics/annotator/judge.pt", b"garbage"),
                 r"models/robotics/annotator/judge\.pt: not readable torch weights .*rebuild "
                 r"it with `dvc repro annotator@robotics`", id="judge-weights-garbage"),
    pytest.param(CONSTRUCT, text(
        "generators/robotics/denoiser/diffusion_pytorch_model.safetensors", b"garbage"),
        r"generators/robotics: not a readable generator .*rebuild it with `dvc repro "
        r"generator`", id="generator-weights-garbage"),
    pytest.param(CONSTRUCT, text("embeddings/robotics/pretrained.npz", b"garbage"),
                 r"embeddings/robotics/pretrained\.npz: not a readable \.npz archive .*rebuild "
                 r"it with `dvc repro pretrain@robotics`", id="embeddings-garbage"),
]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` (size and mtime), except git's and bytecode."""
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or "__pycache__" in rel.parts:
            continue
        if path.is_file():
            out[str(rel)] = (path.stat().st_size, path.stat().st_mtime_ns)
        else:  # a folder's mtime moves when Python adds its __pycache__
            out[str(rel)] = (-1, 0)
    return out


def answers(root: Path) -> list[str]:
    """Every answer on disk: each ledger's records (moved-aside ones too) and the store's."""
    files = [*root.glob("runs/*/*/*/ledger.jsonl*"), *root.glob("answers/*.jsonl")]
    return sorted(line for f in files for line in f.read_text().splitlines()[1:])


@pytest.mark.parametrize("argv, corrupt, expected", CASES)
def test_bad_input_ends_in_one_clear_line(template: Path, tmp_path: Path, argv: list[str],
                                          corrupt: Corrupt | None, expected: str) -> None:
    check(template, tmp_path, argv, corrupt, expected)


@pytest.mark.parametrize("argv, corrupt, expected", BUILT)
def test_damaged_construct_inputs_end_in_one_line_and_keep_every_answer(
        built: Path, tmp_path: Path, argv: list[str], corrupt: Corrupt, expected: str) -> None:
    check(built, tmp_path, argv, corrupt, expected)


def check(template: Path, tmp_path: Path, argv: list[str], corrupt: Corrupt | None,
          expected: str) -> None:
    """The contract: non-zero exit, one ``error:`` line matching ``expected``, no traceback,
    nothing written or changed, every answer still on disk."""
    ws = Path(shutil.copytree(template, tmp_path / "ws", symlinks=True))
    if corrupt is not None:
        corrupt(ws)
    before, bought = snapshot(ws), answers(ws)
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ws, env=ENV, capture_output=True,
                          text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"exited 0 on a bad input:\n{output}"
    assert "Traceback" not in output, output
    lines = done.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), output
    print(lines[-1])  # the corpus's figures: pytest -rP lists every case's line
    assert re.search(expected, lines[-1]), f"{lines[-1]!r} does not match {expected!r}"
    assert not [line for line in lines[:-1] if line.startswith("error")], output
    after = snapshot(ws)
    changed = sorted(set(after.items()) ^ set(before.items()))
    assert not changed, f"files written or changed: {changed}"
    assert answers(ws) == bought
