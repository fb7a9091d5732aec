"""dvc.yaml spells the output paths of benchmark/paths.py; keep the two in step."""

import yaml

from benchmark import paths
from tests.conftest import REPO


def _stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _paths(entries) -> list[str]:
    return [e if isinstance(e, str) else next(iter(e)) for e in entries]


def test_output_paths_match_paths_module() -> None:
    stages = _stages()
    cell = ("d", "m", 0)
    assert str(paths.domain_dir("${item}")) in stages["prepare"]["do"]["outs"]
    construct, train = stages["construct"]["do"], stages["train"]["do"]
    runs, rounds = (p.replace("${item}", "d") + "/" for p in _paths(construct["outs"]))
    assert str(paths.run_dir(*cell)).startswith(runs)
    assert str(paths.rounds_plot(*cell)).startswith(rounds)
    assert str(paths.result_dir(*cell)).startswith(
        _paths(train["outs"])[0].replace("${item}", "d") + "/")
    top = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert "metrics" not in top  # never a folder with checkpoints in it: JSON files only
    assert str(paths.METRIC_TABLES) in _paths(stages["report"]["metrics"])


def test_resume_state_persists_across_reruns() -> None:
    for stage in ("construct", "train"):
        for out in _stages()[stage]["do"]["outs"]:
            (spec,) = out.values()
            assert spec["persist"] is True and spec["cache"] is False


def test_every_stage_module_is_a_dependency_of_its_stage() -> None:
    for name, stage in _stages().items():
        body = stage.get("do", stage)
        assert f"benchmark/stages/{name}.py" in body["deps"], name


def test_every_module_a_stage_imports_is_a_dependency_of_its_stage() -> None:
    """A module missing from a stage's deps would let `dvc repro` keep results its new code
    would change: the deps must cover the stage module's import closure in benchmark/."""
    from benchmark import closure

    for name, stage in _stages().items():
        deps = stage.get("do", stage)["deps"]
        files = {p.resolve().relative_to(REPO).as_posix()
                 for p in closure.closure(f"benchmark.stages.{name}")
                 if p.resolve().is_relative_to(REPO)}
        missing = sorted(f for f in files if f.startswith("benchmark/") and not _covered(f, deps))
        assert not missing, f"stage {name}: imports {missing}, not in its deps"


def test_encoder_and_pattern_paths_match_paths_module() -> None:
    stages = _stages()
    pretrain, patterns = stages["pretrain"]["do"], stages["patterns"]["do"]
    domain = "${item}"
    assert {str(paths.encoder_dir(domain)), str(paths.embeddings_dir(domain))} <= set(
        _paths(pretrain["outs"]))
    assert str(paths.pretrain_summary(domain)) in _paths(pretrain["metrics"])
    assert str(paths.embeddings_dir(domain)) in patterns["deps"]
    assert str(paths.pattern_report(domain)) in _paths(patterns["metrics"])
    assert str(paths.pattern_map(domain)) in _paths(patterns["plots"])


def test_each_pretrain_stage_depends_only_on_its_own_weights() -> None:
    params = _stages()["pretrain"]["do"]["params"]
    assert "pretrain.weights.${item}" in params and "pretrain" not in params


def test_generator_paths_match_paths_module() -> None:
    """One stage for every domain: its outs are the folders holding each domain's files, and
    its deps the folders holding each domain's inputs.
    """
    generator = _stages()["generator"]
    domain = "any"
    assert str(paths.generator_dir(domain).parent) in _paths(generator["outs"])
    assert str(paths.generator_report(domain).parent) in _paths(generator["metrics"])
    assert str(paths.generator_plot(domain).parent) in _paths(generator["plots"])
    for upstream in (paths.embeddings_dir(domain), paths.encoder_dir(domain),
                     paths.annotator_dir(domain), paths.domain_dir(domain)):
        assert _covered(str(upstream), generator["deps"]), upstream
    assert str(paths.generator_dir("${item}")) in _stages()["construct"]["do"]["deps"]


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_every_stage_lists_the_files_it_imports() -> None:
    """Editing any module a stage runs must rerun it: its import closure is in its deps (for
    construct, also the registered methods' modules, loaded through entry points).
    """
    from importlib.metadata import entry_points

    from benchmark.closure import closure

    for name, stage in _stages().items():
        deps = (stage.get("do", stage))["deps"]
        modules = [f"benchmark.stages.{name}"]
        if name == "construct":
            modules += [ep.value for ep in entry_points(group="benchmark.methods")]
        files = {str(p.relative_to(REPO)) for m in modules for p in closure(m)
                 if REPO in p.parents}
        missing = sorted(f for f in files if not _covered(f, deps))
        assert not missing, f"stage {name} imports {missing} but does not list them in deps"


def test_construct_depends_on_the_upstream_models() -> None:
    deps = _stages()["construct"]["do"]["deps"]
    for folder in (paths.encoder_dir, paths.generator_dir, paths.annotator_dir):
        assert str(folder("${item}")) in deps


def test_plugin_code_digests_follow_the_registered_modules() -> None:
    """Plugins may live outside the repository: prepare and construct depend on the digests the
    always-changed ``plugins`` stage writes, at the paths benchmark/paths.py names.
    """
    stages = _stages()
    plugins = stages["plugins"]
    assert plugins["always_changed"] is True
    assert _paths(plugins["outs"]) == [str(paths.PLUGINS)]
    assert str(paths.domain_code("${item}")) in stages["prepare"]["do"]["deps"]
    assert str(paths.METHODS_CODE) in stages["construct"]["do"]["deps"]
