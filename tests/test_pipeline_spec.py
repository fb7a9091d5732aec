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


def _module(body: dict) -> str:
    """The stage module a stage's command runs (``python -m benchmark.stages.<module>``)."""
    return body["cmd"].split(" -m ")[1].split()[0]


def test_every_stage_module_is_a_dependency_of_its_stage() -> None:
    for name, stage in _stages().items():
        body = stage.get("do", stage)
        assert _module(body).startswith("benchmark.stages."), name
        assert _module(body).replace(".", "/") + ".py" in body["deps"], name


def test_every_module_a_stage_imports_is_a_dependency_of_its_stage() -> None:
    """A module missing from a stage's deps would let `dvc repro` keep results its new code
    would change: the deps must cover the stage module's import closure in benchmark/."""
    from benchmark import closure

    for name, stage in _stages().items():
        deps = stage.get("do", stage)["deps"]
        files = {p.resolve().relative_to(REPO).as_posix()
                 for p in closure.closure(_module(stage.get("do", stage)))
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


def _leaves(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out += _leaves(value, path + ".") if isinstance(value, dict) and value else [path]
    return out


def _under(key: str, section: str) -> bool:
    return key == section or key.startswith(section + ".")


def _foreach(stage: dict, params_file: dict) -> list[tuple[str, str]]:
    """(key, item) of every stage a ``foreach`` generates (one pair for a plain stage)."""
    over = stage.get("foreach")
    if over is None:
        return [("", "")]
    node = params_file
    for part in over.removeprefix("${").removesuffix("}").split("."):
        node = node[part]
    return list(node.items()) if isinstance(node, dict) else [(v, v) for v in node]


def test_a_stage_sees_the_profile_values_of_what_it_reads(params_file) -> None:
    """Profiles compose at load time, so DVC sees a scale key only where dvc.yaml lists
    ``profiles.${profile}.<section>``: a stage listing a section must list that section of the
    profile too, and every profile must have it (DVC refuses a listed key that is missing).
    """
    for name, stage in _stages().items():
        body = stage.get("do", stage)
        for key, item in _foreach(stage, params_file):
            listed = [p.replace("${item}", item).replace("${key}", key)
                      for p in body.get("params", [])]
            read = [p for p in listed if not p.startswith("profiles.")]
            tracked = [p.removeprefix("profiles.${profile}.") for p in listed
                       if p.startswith("profiles.")]
            assert all(p.startswith("profiles.${profile}.") for p in listed
                       if p.startswith("profiles."))
            for dotted in read:  # DVC refuses a listed key the file does not have
                node = params_file
                for part in dotted.split("."):
                    assert isinstance(node, dict) and part in node, (name, item, dotted)
                    node = node[part]
            for profile, overlay in params_file["profiles"].items():
                keys = _leaves(overlay)
                for section in tracked:
                    assert any(_under(k, section) for k in keys), (name, profile, section)
                for leaf in keys:
                    if any(_under(leaf, section) for section in read):
                        assert any(_under(leaf, t) for t in tracked), (name, item, leaf)


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
    """Plugins may live outside the repository: each folder of ``plugins.code`` is a dependency
    of its own ``plugin_code`` stage, whose digests ``plugins`` depends on; prepare and construct
    depend on the digests ``plugins`` writes, at the paths benchmark/paths.py names. Nothing
    runs on every repro, so ``dvc status`` can say the pipeline is up to date.
    """
    stages = _stages()
    plugins, folders = stages["plugins"], stages["plugin_code"]
    assert "always_changed" not in plugins and folders["foreach"] == "${plugins.code}"
    assert "${item}" in folders["do"]["deps"]
    assert _paths(folders["do"]["outs"]) == [str(paths.folder_code("${key}"))]
    assert str(paths.FOLDERS_CODE) in plugins["deps"]
    assert _paths(plugins["outs"]) == [str(paths.PLUGINS / "domains"), str(paths.METHODS_CODE),
                                       str(paths.MODALITIES_CODE)]
    for name, stage in stages.items():  # a modality of your own reruns what runs its code
        deps = stage.get("do", stage)["deps"]
        if "benchmark/modalities.py" in deps and name not in ("plugin_code", "plugins"):
            assert str(paths.MODALITIES_CODE) in deps, name
    assert str(paths.domain_code("${item}")) in stages["prepare"]["do"]["deps"]
    assert str(paths.METHODS_CODE) in stages["construct"]["do"]["deps"]
    assert not any("always_changed" in stage.get("do", stage) for stage in stages.values())
