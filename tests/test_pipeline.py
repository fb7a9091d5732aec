"""The real pipeline end to end: `dvc repro` of the smoke profile in a temporary copy."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _sh(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "WANDB_MODE": "offline"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _ran(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A git + DVC copy of the project's files with the smoke profile applied."""
    dest = tmp_path_factory.mktemp("pipeline")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    _sh(["python", "-m", "benchmark.profile", "smoke"], dest)
    _sh(["git", "init", "-q"], dest)
    _sh(["git", "add", "-A"], dest)
    _sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "smoke"], dest)
    return dest


@pytest.fixture(scope="module")
def first_run(workspace: Path) -> str:
    return _sh(["dvc", "repro"], workspace)


def _grid(workspace: Path) -> dict:
    return yaml.safe_load((workspace / "params.yaml").read_text())["grid"]


def test_repro_reports_every_domain_and_method(workspace, first_run) -> None:
    grid = _grid(workspace)
    summary = (workspace / "reports/summary.md").read_text()
    for domain in grid["domains"]:
        section = summary.split(f"## {domain}")[1].split("## ")[0]
        for method in grid["methods"]:
            assert f"| {method} | 1 |" in section
    cells = len(grid["domains"]) * len(grid["methods"]) * len(grid["seeds"])
    assert len(_ran(first_run)) == len(grid["domains"]) + 2 * cells + 1
    assert (workspace / "reports/robustness.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((workspace / "results/climate/random/seed0/metrics.json").read_text())
    assert metrics["cost/annotation"] == 40.0 and metrics["dataset/size"] == 100.0
    assert 0.0 <= metrics["test_shift/acc_wg"] <= metrics["test_shift/acc"] <= 1.0


def test_one_offline_wandb_run_per_cell(workspace, first_run) -> None:
    grid = _grid(workspace)
    runs = sorted(p.name for p in (workspace / "wandb").glob("offline-run-*"))
    assert len(runs) == len(grid["domains"]) * len(grid["methods"]) * len(grid["seeds"])
    assert any("biomedical-random-seed0" in r for r in runs)


def test_unchanged_repro_is_a_no_op(workspace, first_run) -> None:
    assert _ran(_sh(["dvc", "repro"], workspace)) == set()


def test_method_param_change_reruns_only_that_method(workspace, first_run) -> None:
    path = workspace / "params.yaml"
    text = path.read_text()
    path.write_text(text.replace("balance_groups: false", "balance_groups: true"))
    ran = _ran(_sh(["dvc", "repro"], workspace))
    grid = _grid(workspace)
    expected = {f"{stage}@{d}-random-{s}" for stage in ("construct", "train")
                for d in grid["domains"] for s in grid["seeds"]} | {"report"}
    assert ran == expected
    runs = list((workspace / "wandb").glob("offline-run-*"))
    assert len(runs) == len(grid["domains"]) * len(grid["methods"]) * len(grid["seeds"])
