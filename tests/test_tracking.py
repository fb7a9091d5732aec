"""W&B runs accumulate on disk and read back: names, groups, configs, summaries."""

from pathlib import Path

import pytest

from benchmark.tracking import Tracker, group_of, offline_runs


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # offline runs go to ./wandb
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    return tmp_path


def _run(profile: str, digest: str, acc: float) -> None:
    group = group_of("main", profile)
    with Tracker("bench", "offline", group, f"{group}/robotics-random-seed0",
                 f"robotics-random-seed0--{digest}", {"method": "random", "profile": profile},
                 tags=["robotics", "random", profile], lightning=False) as tracker:
        tracker.log_rounds([{"round": 0, "cost": 10.0}, {"round": 1, "cost": 20.0}])
        tracker.log_summary({"test_shift/acc": acc}, {"groups": [{"group": "a", "acc": acc}]})


def test_runs_of_each_configuration_stay_and_read_back(in_tmp: Path) -> None:
    """A rerun of the same configuration replaces its own run; another profile or config
    adds a run in its own group; every one reads back as written.
    """
    _run("smoke", "aaaa", 0.5)
    _run("smoke", "aaaa", 0.6)  # the same cell and config again: replaces
    _run("smoke", "bbbb", 0.7)  # a changed config: beside it
    _run("quick", "cccc", 0.8)  # another profile: its own group
    runs = {r["id"]: r for r in offline_runs(in_tmp / "wandb")}
    assert set(runs) == {f"robotics-random-seed0--{d}" for d in ("aaaa", "bbbb", "cccc")}
    first, quick = runs["robotics-random-seed0--aaaa"], runs["robotics-random-seed0--cccc"]
    assert first["summary"]["test_shift/acc"] == 0.6 and first["exit"] == 0
    assert first["group"] == "main-smoke" and quick["group"] == "main-quick"
    assert first["name"] == "main-smoke/robotics-random-seed0"
    assert quick["tags"] == ["robotics", "random", "quick"] and quick["job_type"] == "train"
    assert quick["config"] == {"method": "random", "profile": "quick"}
    assert quick["summary"]["round/cost"] == 20.0  # the last round's reading


def test_the_experiment_name_of_dvc_exp_run_groups_the_runs(monkeypatch) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "budget-500")
    assert group_of("main", "quick") == "budget-500-quick"
    monkeypatch.delenv("DVC_EXP_NAME")
    assert group_of("cost_analysis", "smoke") == "cost_analysis-smoke"
