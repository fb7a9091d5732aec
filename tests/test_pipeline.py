"""The real pipeline end to end: `dvc repro` of the smoke profile in a temporary copy."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.config import read_yaml, with_profile
from benchmark.tracking import offline_runs
from tests.conftest import REPO
from tests.workspace import absent_real_data, commit, copy_project, set_profile
from tests.workspace import ran as _ran
from tests.workspace import sh as _sh

pytestmark = pytest.mark.slow

ABSENT: dict[str, str] = {}  # grid domains left out: real data whose files are not in raw/


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A git + DVC copy of the project's files (and raw/) with the smoke profile applied; the
    grid narrowed to the domains whose data is here (test_every_domain_runs says which not).
    """
    dest = copy_project(tmp_path_factory.mktemp("pipeline"), "smoke")
    ABSENT.update(absent_real_data(dest))
    if ABSENT:
        path = dest / "params.yaml"
        params = yaml.safe_load(path.read_text())
        params["grid"]["domains"] = [d for d in params["grid"]["domains"] if d not in ABSENT]
        if not params["grid"]["domains"]:
            pytest.skip("; ".join(ABSENT.values()))
        path.write_text(yaml.safe_dump(params, sort_keys=False))
        commit(dest, "grid without the real-data domains whose files are absent")
    return dest


@pytest.fixture(scope="module")
def first_run(workspace: Path) -> str:
    return _sh(["dvc", "repro"], workspace)


def _grid(workspace: Path) -> dict:
    """The workspace's grid, its profile composed in (its seeds are the profile's)."""
    return with_profile(read_yaml(workspace / "params.yaml"))["grid"]


@pytest.mark.parametrize(
    "domain", yaml.safe_load((REPO / "params.yaml").read_text())["grid"]["domains"])
def test_every_domain_runs(workspace, first_run, domain) -> None:
    """Every domain of params.yaml reaches the report, or is skipped saying which files of
    its real-data source are absent and how to obtain them.
    """
    if domain in ABSENT:
        pytest.skip(ABSENT[domain])
    assert f"## {domain}" in (workspace / "reports/summary.md").read_text()


def test_repro_leaves_the_tracked_files_as_they_were(workspace, first_run) -> None:
    """DVC adds each cached output to .gitignore unless it is ignored already: a fresh clone's
    `dvc repro` must not leave a modified tracked file behind.
    """
    import subprocess

    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                            cwd=workspace, capture_output=True, text=True, check=True).stdout
    assert status == ""


def test_repro_reports_every_domain_and_method(workspace, first_run) -> None:
    grid = _grid(workspace)
    summary = (workspace / "reports/summary.md").read_text()
    for domain in grid["domains"]:
        section = summary.split(f"## {domain}")[1].split("## ")[0]
        for method in grid["methods"]:
            assert f"| {method} | 1 |" in section
    per_domain = {"prepare", "pretrain", "patterns", "annotator", "draws", "construct", "train"}
    assert _ran(first_run) == {f"{s}@{d}" for s in per_domain for d in grid["domains"]} | {
        "plugin_code@domains", "plugin_code@methods", "plugins", "generator", "report"}
    assert (workspace / "reports/figures/robustness.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((workspace / "results/climate/random/seed0/metrics.json").read_text())
    assert metrics["cost/annotation"] == 40.0 and metrics["dataset/size"] == 100.0
    assert 0.0 <= metrics["test_shift/acc_wg"] <= metrics["test_shift/acc"] <= 1.0
    for domain in grid["domains"]:  # equal budget: spent to within one item's cost, or said
        for method in (m for m in grid["methods"] if m != "seed_only"):
            run = json.loads((workspace / f"runs/{domain}/{method}/seed0/construction.json")
                             .read_text())
            assert run["cost"] <= 40.0
            assert run["cost"] > 39.0 or run["stop_reason"] == "rounds_underspent"
    adaptive = json.loads((workspace / "runs/robotics/adaptive/seed0/construction.json")
                          .read_text())
    assert adaptive["human_eval"]["synthetic_reviewed"] > 0
    assert "Simulated annotator" in summary and "accept rate" in summary


def test_pattern_report_per_domain(workspace, first_run) -> None:
    for domain in _grid(workspace)["domains"]:
        report = json.loads((workspace / f"reports/patterns/{domain}.json").read_text())
        assert set(report["scores"]) == {"pretrained", "random_init", "raw"}
        for scores in report["scores"].values():
            assert 0.0 <= scores["probe_acc"] <= 1.0
            assert 0.0 <= scores["probe_acc_pool"] <= 1.0
            assert -1.0 <= scores["kmeans"]["ami"] <= 1.0
        assert abs(sum(row["deficit"] for row in report["clusters"])) < 1e-4
        chosen = report["scores"]["pretrained"][report["algorithm"]]["rare_lift"]
        spread = report["scores"]["pretrained"]["lift_spread"]
        if chosen is not None:  # the chosen clustering's seed is the spread's first
            assert spread["min"] <= chosen <= spread["max"]
        png = workspace / f"reports/patterns/{domain}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
        members = json.loads((workspace / f"models/{domain}/pretrain.json").read_text())["members"]
        encoder = workspace / f"models/{domain}/encoder"
        if members == 1:
            assert (encoder / "config.json").is_file()
        else:  # one save_pretrained folder per member
            assert sorted(p.name for p in encoder.iterdir()) == [f"member-{i}"
                                                                 for i in range(members)]


def test_generator_report_per_domain(workspace, first_run) -> None:
    for domain in _grid(workspace)["domains"]:
        report = json.loads((workspace / f"reports/generators/{domain}.json").read_text())
        target = report["targeting"]
        assert 0.0 <= target["acc"] <= 1.0 and 0.0 <= target["chance"] <= 1.0
        assert set(report["prdc"]) == {"precision", "recall", "density", "coverage"}
        assert report["tstr"]["ratio"] >= 0.0 and report["frechet"] >= 0.0
        png = workspace / f"reports/generator_samples/{domain}.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
        assert (workspace / f"generators/{domain}/generator.json").is_file()


def _cell_runs(workspace: Path, grid: dict) -> list[dict]:
    """The cells' W&B runs, read back from their offline run files."""
    return [r for r in offline_runs(workspace / "wandb") if r["job_type"] == "train"]


def test_offline_wandb_runs_read_back(workspace, first_run) -> None:
    """One run per cell and one per domain for each upstream stage that learns, all in the
    group of the experiment and profile, finished, with the cell's config and its metrics.
    """
    grid = _grid(workspace)
    runs = offline_runs(workspace / "wandb")
    assert {r["group"] for r in runs} == {"main-smoke"} and {r["exit"] for r in runs} == {0}
    cells = {(r["config"]["domain"], r["config"]["method"], r["config"]["seed"]): r
             for r in _cell_runs(workspace, grid)}
    assert len(cells) == len(_cell_runs(workspace, grid)) == (
        len(grid["domains"]) * len(grid["methods"]) * len(grid["seeds"]))
    for (domain, method, seed), run in cells.items():
        assert run["name"] == f"main-smoke/{domain}-{method}-seed{seed}"
        assert run["tags"] == [domain, method, "smoke"]
        metrics = json.loads(
            (workspace / f"results/{domain}/{method}/seed{seed}/metrics.json").read_text())
        assert run["summary"]["test_shift/acc"] == pytest.approx(metrics["test_shift/acc"])
    for domain in grid["domains"]:
        jobs = sorted(r["job_type"] for r in runs if r["name"] == f"main-smoke/{domain}-"
                      f"{r['job_type']}")
        assert jobs == ["annotator", "generator", "patterns", "pretrain"], domain


def test_dvc_metrics_and_plots_read(workspace, first_run) -> None:
    """`dvc metrics show`: a compact table per domain, no warning; `dvc plots show`: cost,
    size, accept rate and probe accuracy by round, a line per method, a panel per domain.
    """
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    grid = _grid(workspace)
    done = subprocess.run(["dvc", "metrics", "show"], cwd=workspace, capture_output=True,
                          text=True, check=True, env=env)
    assert "failed" not in (done.stdout + done.stderr).lower(), done.stderr
    for domain in grid["domains"]:
        table = json.loads((workspace / f"reports/metrics/{domain}.json").read_text())
        assert set(table) == set(grid["methods"])
        assert 0.0 <= table["random"]["test_shift/acc"] <= 1.0
        assert f"reports/metrics/{domain}.json" in done.stdout
    shown = subprocess.run(["dvc", "plots", "show", "--json"], cwd=workspace,
                           capture_output=True, text=True, check=True, env=env)
    assert "warning" not in shown.stderr.lower() and "error" not in shown.stderr.lower(), (
        shown.stderr)
    plots = json.loads(shown.stdout)["data"]
    for plot in ("cost_by_round", "dataset_size_by_round", "accept_rate_by_round",
                 "probe_accuracy_by_round"):
        (spec,) = plots[plot]
        values = spec["content"]["data"]["values"]
        assert {v["domain"] for v in values} == set(grid["domains"]), plot
        assert {v["method"] for v in values} == set(grid["methods"]) - {"seed_only"}, plot
        assert spec["content"]["spec"]["encoding"]["color"]["field"] == "method"


def test_unchanged_repro_is_a_no_op(workspace, first_run) -> None:
    """Nothing runs, and DVC says so; selecting another profile changes exactly the stages
    that read a scale key (DVC sees it through ``profiles.${profile}.<section>``).
    """
    assert _ran(_sh(["dvc", "repro"], workspace)) == set()
    assert "Data and pipelines are up to date." in _sh(["dvc", "status"], workspace)
    path = workspace / "params.yaml"
    text = path.read_text()
    set_profile(path, "quick")
    try:
        status = _sh(["dvc", "status", "--json"], workspace)
    finally:
        path.write_text(text)
    changed = set(json.loads(status))
    domains = _grid(workspace)["domains"]
    per_domain = {"prepare", "pretrain", "patterns", "annotator", "draws", "construct", "train"}
    assert changed == {f"{s}@{d}" for s in per_domain for d in domains} | {
        "plugins", "generator", "report"}
    assert "Data and pipelines are up to date." in _sh(["dvc", "status"], workspace)


def _files(folder: Path) -> dict[str, bytes]:
    """A folder's files but its stamps (a measure stamp digests a report with timings)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.suffix != ".stamp"}


def test_generator_stage_retrains_only_the_domain_whose_inputs_changed(workspace,
                                                                      first_run) -> None:
    """One process trains every domain's generator, but a domain whose stamp matches is kept:
    with one domain's stamp gone, DVC reruns the stage and only that domain is retrained, to
    the same bytes (one thread, whether it ran in a forked worker or in turn) and the same
    report, and nothing downstream reruns.
    """
    grid = _grid(workspace)
    before = {d: _files(workspace / f"generators/{d}") for d in grid["domains"]}
    report = json.loads((workspace / "reports/generators/robotics.json").read_text())
    (workspace / "generators/robotics/generator.stamp").unlink()
    log = _sh(["dvc", "repro"], workspace)
    assert _ran(log) == {"generator"}
    assert "generator robotics: trained" in log
    for domain in grid["domains"]:
        assert _files(workspace / f"generators/{domain}") == before[domain], domain
        if domain != "robotics":
            assert f"generator {domain}: inputs and outputs unchanged" in log
    # outputs are stamped too: garbage over the weights, a truncated metrics file: rebuilt
    weights = max((p for p in (workspace / "generators/robotics").rglob("*") if p.is_file()),
                  key=lambda p: p.stat().st_size)
    weights.write_bytes(b"garbage")
    metrics = workspace / "results/robotics/random/seed0/metrics.json"
    scores = json.loads(metrics.read_text())
    metrics.write_text(metrics.read_text()[:40])
    log = _sh(["dvc", "repro"], workspace)
    assert {"generator", "train@robotics"} <= _ran(log) and "construct@robotics" not in _ran(log)
    assert _files(workspace / "generators/robotics") == before["robotics"]
    again = json.loads(metrics.read_text())
    assert {k: v for k, v in again.items() if not k.startswith("compute/")} == {
        k: v for k, v in scores.items() if not k.startswith("compute/")}
    again = json.loads((workspace / "reports/generators/robotics.json").read_text())
    assert {k: v for k, v in again.items() if not k.startswith("compute/")} == {
        k: v for k, v in report.items() if not k.startswith("compute/")}


def _stamps(workspace: Path, grid: dict) -> dict[tuple[str, str], float]:
    """When each cell's model and metrics were last written."""
    return {(d, m): (workspace / f"results/{d}/{m}/seed0/metrics.json").stat().st_mtime_ns
            for d in grid["domains"] for m in grid["methods"]}


def test_method_param_change_reruns_only_that_method(workspace, first_run) -> None:
    grid = _grid(workspace)
    before = _stamps(workspace, grid)
    path = workspace / "params.yaml"
    text = path.read_text()
    path.write_text(text.replace("balance_groups: false", "balance_groups: true"))
    _sh(["dvc", "repro"], workspace)
    after = _stamps(workspace, grid)
    retrained = {cell for cell in before if after[cell] != before[cell]}
    assert retrained == {(d, "random") for d in grid["domains"]}
    runs = _cell_runs(workspace, grid)  # W&B keeps random's earlier configuration beside
    assert len(runs) == len(grid["domains"]) * (len(grid["methods"]) + 1) * len(grid["seeds"])
    for d in grid["domains"]:  # its new one, each run with its own config
        kept = [r["config"]["method_options"]["balance_groups"] for r in runs
                if r["tags"][:2] == [d, "random"]]
        assert sorted(kept) == [False, True], d


def test_editing_a_method_reruns_its_cells_with_a_new_result(workspace, first_run) -> None:
    grid = _grid(workspace)
    before = {d: np.load(workspace / f"runs/{d}/random/seed0/dataset.npz")["meta.item"]
              for d in grid["domains"]}
    stamps = _stamps(workspace, grid)
    path = workspace / "methods/random.py"
    text = path.read_text()
    path.write_text(text.replace("order = view.rng.permutation(len(cands))",
                                 "order = view.rng.permutation(len(cands))[::-1]"))
    _sh(["dvc", "repro"], workspace)
    path.write_text(text)
    after = _stamps(workspace, grid)
    assert {cell for cell in stamps if after[cell] != stamps[cell]} == {
        (d, "random") for d in grid["domains"]}
    for d in grid["domains"]:
        items = np.load(workspace / f"runs/{d}/random/seed0/dataset.npz")["meta.item"]
        assert not np.array_equal(before[d], items)  # new code, new answers, new dataset
        assert (workspace / f"runs/{d}/random/seed0/ledger.jsonl.stale").is_file()
    _sh(["dvc", "repro"], workspace)  # back to the committed code for the tests after this one


def test_sigkilled_construct_resumes_without_losing_or_rebuying(workspace, first_run) -> None:
    """Kill -9 the real stage process while it writes answers, rerun, repeat: the final ledger
    holds every answer once and the dataset equals the uninterrupted run's.
    """
    import os
    import signal
    import subprocess
    import time

    run = workspace / "runs/robotics/adaptive/seed0"
    clean = np.load(run / "dataset.npz")
    clean_items, clean_y = clean["meta.item"], clean["y"]
    clean_keys = [line for line in (run / "ledger.jsonl").read_text().splitlines()[1:]]
    for name in ("ledger.jsonl", "state.npz", "dataset.npz"):
        (run / name).unlink()
    cmd = ["python", "-m", "benchmark.stages.construct", "robotics", "--method", "adaptive",
           "--seed", "0"]
    env = {**os.environ, "WANDB_MODE": "offline"}
    kills = 0
    for _ in range(3):  # three kills, each once the ledger has grown since the last one
        path = run / "ledger.jsonl"
        lines = len(path.read_bytes().splitlines()) if path.exists() else 0
        proc = subprocess.Popen(cmd, cwd=workspace, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if path.exists() and len(path.read_bytes().splitlines()) > max(lines, 1):
                proc.send_signal(signal.SIGKILL)  # mid-way through a round's answers
                kills += 1
                break
            time.sleep(0.005)
        proc.wait()
    assert kills >= 1
    subprocess.run(cmd, cwd=workspace, env=env, check=True, capture_output=True)
    records = [json.loads(line) for line in (run / "ledger.jsonl").read_text().splitlines()[1:]]
    keys = [(r["item"], r["action"]) for r in records]
    assert len(keys) == len(set(keys)) == len(clean_keys)  # nothing lost, nothing twice
    resumed = np.load(run / "dataset.npz")
    np.testing.assert_array_equal(resumed["meta.item"], clean_items)
    np.testing.assert_array_equal(resumed["y"], clean_y)
    assert not list(run.glob(".*.tmp"))  # no stray temp files after the resumed run


def test_cells_in_parallel_equal_cells_in_turn(workspace, first_run) -> None:
    """grid.workers only changes the speed: one worker rebuilds and retrains every cell of a
    domain to the same datasets and the same metrics (compute seconds aside) as two. The image
    domain, where encoder, generator and judge all run, is the strictest case.
    """
    grid = _grid(workspace)
    before = {m: json.loads((workspace / f"results/biomedical/{m}/seed0/metrics.json").read_text())
              for m in grid["methods"]}
    items = {m: np.load(workspace / f"runs/biomedical/{m}/seed0/dataset.npz")["meta.item"]
             for m in grid["methods"]}
    import shutil

    shutil.rmtree(workspace / "runs/biomedical")
    shutil.rmtree(workspace / "results/biomedical")
    path = workspace / "params.yaml"
    text = path.read_text()
    assert text.count("workers: auto ") == 1  # one per core: two here
    path.write_text(text.replace("workers: auto ", "workers: 1 "))
    _sh(["dvc", "repro", "train@biomedical"], workspace)
    path.write_text(text)
    for m in grid["methods"]:
        after = json.loads((workspace / f"results/biomedical/{m}/seed0/metrics.json").read_text())
        same = {k for k in before[m] if not k.startswith("compute/")}
        assert {k: after[k] for k in same} == {k: before[m][k] for k in same}, m
        np.testing.assert_array_equal(
            np.load(workspace / f"runs/biomedical/{m}/seed0/dataset.npz")["meta.item"], items[m])


def test_a_sampling_setting_is_measured_again_not_trained(workspace, first_run) -> None:
    """A guidance sweep trains nothing: the generator stage keeps every domain's weights (its
    training stamp matches) and only measures again, with the new setting in the report."""
    grid = _grid(workspace)
    weights = {d: _files(workspace / f"generators/{d}") for d in grid["domains"]}
    path = workspace / "params.yaml"
    text = path.read_text()
    assert text.count("guidance: 2.0 ") == 1
    path.write_text(text.replace("guidance: 2.0 ", "guidance: 1.5 "))
    try:
        log = _sh(["dvc", "repro", "generator"], workspace)
    finally:
        path.write_text(text)
    for domain in grid["domains"]:
        assert f"generator {domain}: weights current, measured again" in log
        assert _files(workspace / f"generators/{domain}") == weights[domain]
        report = json.loads((workspace / f"reports/generators/{domain}.json").read_text())
        assert report["guidance"] == 1.5
    assert "trained (" not in log
