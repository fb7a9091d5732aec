"""Experiments are overlays composed at load time: they validate for every profile, never touch
the tracked params.yaml, and each runs end to end in its own workspace on the smoke profile."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark import experiment
from benchmark.config import ConfigError, parse_params
from benchmark.data import load_domain
from benchmark.tracking import offline_runs
from tests.workspace import REPO, copy_workspace, ran, sh

PROFILES = ("smoke", "quick", "paper")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", experiment.names(REPO))
def test_every_experiment_composes_for_every_profile(name: str, profile: str) -> None:
    before = (REPO / "params.yaml").read_bytes()
    composed = experiment.compose(name, profile, REPO)
    if experiment.two_phases(composed):  # tuning first, on replicates apart from the reported
        first = parse_params(experiment.tuning_phase(composed))
        assert not set(first.grid.seeds) & set(composed["grid"]["seeds"])
        composed = experiment.reported_phase(composed, {})
    params = parse_params(composed)
    assert params.grid.experiment == name and params.profile == profile
    assert params.report.baseline in (*params.grid.methods, "strongest")
    assert (REPO / "params.yaml").read_bytes() == before


def test_overlay_and_profile_values_win(tmp_path: Path) -> None:
    root = _project(tmp_path, {"grid": {"methods": ["scale_only", "adaptive_x"]},
                               "methods": {"adaptive_x": {"use": "adaptive", "fairness": 0.0}},
                               "profiles": {"smoke": {"grid": {"seeds": [3, 4]}}}})
    params = parse_params(experiment.compose("exp", "smoke", root))
    assert params.grid.seeds == [3, 4] and params.grid.methods == ["scale_only", "adaptive_x"]
    assert params.construct.budget == 40  # the smoke profile under the overlay
    options = params.method_options("adaptive_x")
    assert params.method_plugin("adaptive_x") == "adaptive" and options["fairness"] == 0.0
    assert options["acquisition"] == params.method_options("adaptive")["acquisition"]
    assert parse_params(experiment.compose("exp", "quick", root)).grid.seeds == [0]


@pytest.mark.parametrize("overlay, match", [
    ({"grid": {"methods": ["nosuch"]}}, r"exp\.yaml over .*methods: unknown method 'nosuch'"),
    ({"construct": {"budgt": 3}}, r"exp\.yaml over .*construct\.budgt: unknown key"),
    ({"profiles": {"huge": {}}}, r"exp\.yaml: profiles\.huge: unknown profile"),
    ({"methods": {"v": {"use": "nosuch"}}, "grid": {"methods": ["v"]}}, r"methods\.v\.use"),
    ({"profiles": ["smoke"]}, r"exp\.yaml: profiles: got list, expected a mapping"),
])
def test_bad_overlays_name_the_file_and_key(tmp_path: Path, overlay: dict, match: str) -> None:
    root = _project(tmp_path, overlay)
    with pytest.raises(ConfigError, match=match):
        experiment.compose("exp", "smoke", root)


def test_unknown_experiment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no such experiment; expected one of \[.*cost_analysis"):
        experiment.compose("nosuch", "quick", REPO)


def test_malformed_overlay_yaml_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path, {})
    (root / "experiments" / "exp.yaml").write_text("grid:\n  seeds: [0, 1\n")
    with pytest.raises(ConfigError, match=r"exp\.yaml: line \d+, column \d+: not valid YAML"):
        experiment.compose("exp", "smoke", root)


@pytest.mark.parametrize("name", ["../params", "a/b", "", "exp.yaml"])
def test_experiment_names_are_plain(tmp_path: Path, name: str) -> None:
    root = _project(tmp_path, {})
    with pytest.raises(ConfigError, match=r"expected letters, digits, '_' and '-' only"):
        experiment.compose(name, "smoke", root)
    assert sorted(p.name for p in root.iterdir()) == ["experiments", "params.yaml"]


def test_a_second_run_of_an_experiment_is_refused_before_writing(tmp_path: Path) -> None:
    root = _project(tmp_path, {"grid": {"methods": ["scale_only"]}})
    with experiment._only_run(root, "exp", "smoke"):  # the first run, still going
        with pytest.raises(ConfigError, match=r"exp \(smoke\) is already running \(pid \d+"):
            experiment.run("exp", "smoke", root, methods=["scale_only"])
        assert not experiment.workspace("exp", "smoke", root).exists()
    with experiment._only_run(root, "exp", "smoke"):  # released when the first ended
        pass


def _project(tmp_path: Path, overlay: dict) -> Path:
    (tmp_path / "experiments").mkdir()
    (tmp_path / "params.yaml").write_bytes((REPO / "params.yaml").read_bytes())
    (tmp_path / "experiments" / "exp.yaml").write_text(yaml.safe_dump(overlay))
    return tmp_path


def _paired(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["domain", "method", "diff", "ci", "replicates_needed"])


def _sequential_params(cap: int = 40) -> dict:
    return {"grid": {"domains": ["a", "b", "c"], "seeds": [0, 1, 2]},
            "tuning": {"seeds": [4, 5]},
            "report": {"target_halfwidth": 0.03, "max_replicates": cap}}


def test_extension_sizes_each_domain_by_its_undecided_differences() -> None:
    paired = _paired([
        ("a", "adaptive", 0.01, 0.05, 9),      # undecided: sizes a
        ("a", "seed_only", -0.20, 0.06, 30),   # decided (CI wholly below -0.03): sizes nothing
        ("b", "adaptive", 0.00, 0.02, 2),      # precise enough already
        ("c", "adaptive", 0.05, 0.03, 100),    # CI [0.02, 0.08] overlaps +-0.03: undecided
        ("c", "random", 0.0, math.nan, math.nan)])  # one replicate: no spread, no estimate
    extra = experiment.extension(paired, _sequential_params())
    # new seeds follow the reported ones, skipping the tuning seeds; c is capped at 40 in all
    assert extra == {"a": [3, 6, 7, 8, 9, 10], "c": [3, *range(6, 42)]}
    assert len(extra["c"]) + 3 == 40
    assert experiment.extension(paired, _sequential_params(cap=3)) == {}


def test_sequential_design_runs_the_extension_once_and_resumes_it(tmp_path: Path,
                                                                  monkeypatch) -> None:
    runs: list[dict] = []

    def repro(root: Path, dest: Path, params: dict, *_: object) -> None:
        runs.append(params["grid"].get("extra_seeds"))
        (dest / "reports").mkdir(parents=True, exist_ok=True)
        _paired([("a", "adaptive", 0.0, 0.05, 5)]).to_csv(dest / "reports" / "paired.csv")

    monkeypatch.setattr(experiment, "_repro", repro)
    params = {**_sequential_params(), "profile": "quick", "profiles": {"quick": {}}}
    done = experiment._sequential(tmp_path, tmp_path / "ws", params, "exp", "quick")
    assert runs == [None, {"a": [3, 6]}] and done["grid"]["extra_seeds"] == {"a": [3, 6]}
    runs.clear()  # a rerun goes straight to the extended grid: nothing shrinks it back first
    experiment._sequential(tmp_path, tmp_path / "ws", params, "exp", "quick")
    assert runs == [{"a": [3, 6]}]
    runs.clear()  # a damaged decision: made again, not a traceback
    (tmp_path / "ws" / experiment.DECISION).write_text("extra_seeds: [unclosed\n")
    experiment._sequential(tmp_path, tmp_path / "ws", params, "exp", "quick")
    assert runs == [None, {"a": [3, 6]}]
    runs.clear()  # other params: decided anew
    experiment._sequential(tmp_path, tmp_path / "ws", {**params, "tuning": {"seeds": [3]}},
                           "exp", "quick")
    assert runs == [None, {"a": [4, 5]}]


# ------------------------------------------------------------------ end to end (smoke, one domain)


@pytest.fixture(scope="module")
def project(robotics_upstream: Path, tmp_path_factory) -> Path:
    """A copy of the shared smoke workspace whose main job has built robotics' upstream models."""
    return copy_workspace(robotics_upstream, tmp_path_factory.mktemp("experiments") / "ws")


# per experiment, the methods that make it what it is, beside the paired baseline
TINY = {"baseline_comparison": ["scale_only", "adaptive"],
        "cost_analysis": ["scale_only", "random"],
        "ethical_evaluation": ["scale_only", "random_thresholded", "adaptive_nofair"],
        "domain_adaptation": ["seed_only", "scale_only"]}
DOMAIN = {"domain_adaptation": "robotics_transfer"}  # its transfer variant, learnt elsewhere


def test_tiny_steps_cover_every_experiment() -> None:
    assert set(TINY) == set(experiment.names(REPO))


@pytest.mark.slow
@pytest.mark.parametrize("name", experiment.names(REPO))
def test_each_experiment_runs_end_to_end(project: Path, name: str) -> None:
    tracked = (project / "params.yaml").read_bytes()
    domain = DOMAIN.get(name, "robotics")
    cmd = ["python", "-m", "benchmark.experiment", "run", name, "--profile", "smoke",
           "--domains", domain, "--methods", *TINY[name]]
    log = sh(cmd, project)
    assert (project / "params.yaml").read_bytes() == tracked
    learnt = {s for s in ran(log) if s.startswith("pretrain@")} | {
        f"generator@{d}" for d in re.findall(r"generator (\S+): trained", log)}
    if domain == "robotics":  # upstream models came from the main workspace: none retrained
        assert not learnt
    else:  # a transfer domain learnt its models on the other site's data
        assert learnt == {f"pretrain@{domain}", f"generator@{domain}"}
        workspace = project / ".experiments" / f"{name}-smoke"
        other = load_domain(workspace / "data" / domain / "transfer_from", ("pool",))
        assert (other["pool"].meta["gravity"] == 1.25).all()
    out = project / "reports" / "experiments" / f"{name}-smoke"
    summary = (out / "summary.md").read_text()
    composed = yaml.safe_load((out / "params.yaml").read_text())
    assert f"experiment `{name}`" in summary and "n = 1, no CI" in summary
    assert ("**Transfer:** the encoder and the generator learnt on `hopper` with "
            "`gravity: 1.25`" in summary) == (domain == "robotics_transfer")
    for method in composed["grid"]["methods"]:
        assert f"| {method} | 1 |" in summary
    if experiment.two_phases(composed):  # chosen on val of replicates of their own, named
        tuned = (out.with_name(f"{out.name}-tuning") / "tuning.csv").read_text()
        assert "scale_only.t1" in tuned and "Settings used, chosen per method on val/acc" in summary
        chosen = yaml.safe_load((out / "params.yaml").read_text())["tuning"]["chosen"][domain]
        assert set(chosen) == {"scale_only", "adaptive"}
    elif composed["grid"].get("tune"):  # each entry's setting chosen on val, named
        tuned = (out / "tuning.csv").read_text()
        assert "Settings chosen per method on val/acc" in summary and "scale_only.t1" in tuned
    if composed.get("replicates", {}).get("redraw"):  # the seed's cells used its own draw
        workspace = project / ".experiments" / f"{name}-smoke"
        drawn = load_domain(workspace / "draws" / domain / "seed0", ("seed",))["seed"]
        own = load_domain(workspace / "data" / domain, ("seed",))["seed"]
        for run in (workspace / "runs" / domain).glob("*/seed0/dataset.npz"):
            x = np.load(run)["x"][: len(drawn)]
            assert np.array_equal(x, drawn.x) and not np.array_equal(x, own.x[: len(x)])
    if composed["report"].get("max_replicates"):  # the sequential design ran; one replicate
        ws = project / ".experiments" / f"{name}-smoke"  # shows no spread: nothing to add
        assert yaml.safe_load((ws / experiment.DECISION).read_text())["extra_seeds"] == {}
    if composed["report"]["baseline"] == "strongest":
        assert "**Strongest baseline:** `scale_only`" in summary  # the only one in the grid
    assert (out / "figures" / "robustness.png").read_bytes()[:4] == b"\x89PNG"
    runs = offline_runs(project / "wandb")  # beside the main job's, in a group of its own
    assert {"main-smoke", f"{name}-smoke"} <= {r["group"] for r in runs}
    mine = [r for r in runs if r["group"] == f"{name}-smoke"]
    assert {r["exit"] for r in mine} == {0}
    assert {r["config"]["experiment"] for r in mine if r["job_type"] == "train"} == {name}
    if composed["train"]["curve"]:
        saved = (out / "cost_saved.csv").read_text().splitlines()
        assert saved[0].startswith("domain,method,reference") and len(saved) > 1
        for row in saved[1:]:  # a share of the reference's cost, or -inf: never reached
            value = float(row.split(",")[4])
            assert value == -math.inf or value <= 1.0
        assert (out / "figures" / "label_efficiency.png").is_file()
    assert not ran(sh(cmd, project))  # an unchanged experiment is a no-op



def test_postprocess_must_be_known(tmp_path: Path) -> None:
    root = _project(tmp_path, {"methods": {"r": {"use": "random", "postprocess": "magic"}},
                               "grid": {"methods": ["scale_only", "r"]}})
    with pytest.raises(ConfigError, match=r"methods\.r\.postprocess: got 'magic'"):
        experiment.compose("exp", "smoke", root)
    params = parse_params(experiment.compose("ethical_evaluation", "smoke", REPO))
    assert params.postprocess("random_thresholded") == "threshold_optimizer"
    assert "postprocess" not in params.method_options("random_thresholded")
