"""A newcomer's route (domains/README.md, methods/README.md): a domain source, scaffolded by
``python -m benchmark.new_domain`` and given its loader, a modality of its own (``spotmap``) and a
baseline, in a package of their own outside the repository, registered by its
``pyproject.toml`` and installed editable. The contract tests pick them up, the smoke pipeline
reports their cells, and ``dvc repro`` reruns what an edit of any of the files touches, and
nothing when nothing changed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from benchmark import closure
from tests.conftest import REPO
from tests.workspace import commit, copy_project, ran, sh

METHOD_ENTRY = """
[project.entry-points."benchmark.methods"]
first_k = "newcomer_plugins.first_k"

[project.entry-points."benchmark.modalities"]
spotmap = "newcomer_plugins.spotmap"
"""

MODALITY = '''"""``spotmap``: a throw-away modality for the newcomer test."""

import numpy as np

from benchmark.modalities import MODALITIES, ImageModality


@MODALITIES.register("spotmap")
class SpotMap(ImageModality):
    """Maps of where something is: an image whose position carries the class, so training
    augments with noise only (an image's flips would move a spot to the other class's corner).
    Drawn as one heat map, shown in Label Studio without zoom; the image settings, encoder and
    generator otherwise (``kind``)."""

    kind = "image"

    def augment(self, x):
        import torch

        return x + 0.05 * torch.randn_like(x)

    def draw(self, ax, item):
        ax.imshow(np.asarray(item).mean(axis=0), cmap="magma")
        ax.axis("off")

    def ls_object(self, name, n_channels):
        return f'<Image name="{name}" value="$image" zoom="false"/>'
'''

DOMAIN = '''"""Spots: a throw-away image domain source for the newcomer test (domains/README.md)."""

import numpy as np

from benchmark.data import SPLITS, DomainData, Split
from benchmark.domain import DOMAINS, Domain


@DOMAINS.register("spots")
class Spots(Domain):
    """3 x 8 x 8 images of noise with one bright 3 x 3 spot: top-left for class 0, bottom-right
    for class 1. The group tints the red channel; test_shift brightens every image by
    ``offset``. Patterns are class x group, none of them rare."""

    modality = "spotmap"  # the package's own modality (newcomer_plugins.spotmap)

    def __init__(self, offset: float = 0.3) -> None:
        self.offset = offset

    def build(self, sizes, seed):
        rng = np.random.default_rng(seed)
        splits = {}
        for name in SPLITS:
            n = sizes[name]
            y, group = rng.integers(0, 2, n), rng.integers(0, 2, n)
            x = rng.normal(0.0, 0.2, (n, 3, 8, 8))
            for i in range(n):
                at = 1 if y[i] == 0 else 5
                x[i, :, at - 1:at + 2, at - 1:at + 2] += 1.0
            x[:, 0] += 0.3 * group[:, None, None]
            x += self.offset if name == "test_shift" else 0.0
            splits[name] = Split(x.astype(np.float32), y, group, {"pattern": 2 * y + group})
        return DomainData("spots", self.modality, ["top_left", "bottom_right"], ["g0", "g1"],
                          splits, ["top_left/g0", "top_left/g1", "bottom_right/g0",
                                   "bottom_right/g1"])
'''

METHOD = '''"""``first_k``: a throw-away baseline for the newcomer test."""

import numpy as np

from benchmark.method import METHODS, Method, label_requests


@METHODS.register("first_k")
class FirstK(Method):
    """Asks people to label the first ``k`` unlabelled pool items, in pool order."""

    name = "first_k"

    def __init__(self, k: int = 1000) -> None:
        self.k = k

    def propose(self, ctx):
        return ctx.pool

    def select(self, cands, ctx):
        return label_requests(cands, np.arange(min(self.k, len(cands))))
'''

SMOKE = {"seed": 60, "pool": 200, "val": 60, "test_id": 100, "test_shift": 100, "reference": 60}


def _install(root: Path, workspace: Path) -> tuple[Path, dict[str, str]]:
    """The README's route through the scaffold: ``python -m benchmark.new_domain`` writes the
    package and the domain's params entries, the newcomer writes the loader (``build``) and a
    method beside it, then ``pip install -e`` into ``root/site`` (not the project's
    environment); the returned env puts it on the path of every subprocess.
    """
    pkg = root / "newcomer_plugins"
    sh([sys.executable, "-m", "benchmark.new_domain", "spots", "--modality", "image",
        "--package", str(pkg)], workspace)
    (pkg / "newcomer_plugins" / "spots.py").write_text(DOMAIN)  # the loader
    (pkg / "newcomer_plugins" / "first_k.py").write_text(METHOD)
    (pkg / "newcomer_plugins" / "spotmap.py").write_text(MODALITY)
    with (pkg / "pyproject.toml").open("a") as fh:
        fh.write(METHOD_ENTRY)
    site = root / "site"
    sh([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
        "--no-index", "--no-cache-dir", "--target", str(site), "-e", str(pkg)], root)
    # an editable install is a .pth file, which Python reads only in site directories
    (site / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({str(site)!r})\n")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    return pkg, {"PYTHONPATH": path}


def _use_the_plugins(workspace: Path, pkg: Path) -> None:
    """The README's step 3: the domain's section, and the grid narrowed to it (one domain keeps
    the test short) with the new method beside a built-in one.
    """
    path = workspace / "params.yaml"
    params = yaml.safe_load(path.read_text())
    assert params["profiles"]["smoke"]["domains"]["spots"]["sizes"] == SMOKE  # the scaffold's
    assert params["pretrain"]["weights"]["spots"] is None
    params["grid"].update(domains=["spots"], methods=["random", "first_k"])
    params["report"]["baseline"] = "random"
    params["domains"]["spots"]["options"] = {"spots": {"offset": 0.4}}
    params["methods"]["first_k"] = {"k": 1000}
    assert params["plugins"]["code"]["newcomer_plugins"] == str(pkg.resolve())  # the scaffold's
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    commit(workspace, "spots domain, first_k method")


def _edit(path: Path) -> None:
    path.write_text(path.read_text() + "# edited\n")


@pytest.mark.slow
def test_plugins_from_a_package_of_their_own(tmp_path_factory) -> None:
    workspace = copy_project(tmp_path_factory.mktemp("add_plugins"), "smoke")
    pkg, env = _install(tmp_path_factory.mktemp("newcomer"), workspace)
    contract = sh(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "tests/test_domains.py", "tests/test_methods.py", "-k", "spots or first_k"],
                  workspace, env)
    assert "6 passed" in contract and "skipped" not in contract, contract

    _use_the_plugins(workspace, pkg)
    first = sh(["dvc", "repro"], workspace, env)
    stages = ("prepare", "pretrain", "patterns", "annotator", "draws", "construct", "train")
    folders = {f"plugin_code@{f}" for f in ("domains", "methods", "newcomer_plugins")}
    assert ran(first) == {f"{s}@spots" for s in stages} | folders | {
        "plugins", "generator", "report"}
    section = (workspace / "reports/summary.md").read_text().split("## spots")[1]
    assert "| random | 1 |" in section and "| first_k | 1 |" in section
    digest = json.loads((workspace / "plugins/domains/spots.json").read_text())
    assert digest["module"] == "newcomer_plugins.spots" and digest["code"]
    # the package's modality ran every stage: its data, encoder, generator (the sheet it drew)
    assert json.loads((workspace / "data/spots/domain.json").read_text())["modality"] == "spotmap"
    code = json.loads((workspace / "plugins/modalities.json").read_text())["spotmap"]
    assert code["module"] == "newcomer_plugins.spotmap" and code["code"]
    assert (workspace / "reports/generator_samples/spots.png").read_bytes()[:4] == b"\x89PNG"

    _edit(pkg / "newcomer_plugins" / "first_k.py")  # the method's cells rerun, nothing upstream
    edited = ran(sh(["dvc", "repro"], workspace, env))
    assert "construct@spots" in edited and not {"prepare@spots", "pretrain@spots"} & edited
    runs = workspace / "runs/spots"
    assert (runs / "first_k/seed0/ledger.jsonl.stale").is_file()  # a fresh ledger for new code
    assert not (runs / "random/seed0/ledger.jsonl.stale").exists()

    start = time.perf_counter()
    log = sh(["dvc", "repro"], workspace, env)
    seconds = time.perf_counter() - start
    assert ran(log) == set(), log
    assert "Data and pipelines are up to date." in sh(["dvc", "status"], workspace, env)
    print(f"unchanged dvc repro: {seconds:.1f} s")

    _edit(pkg / "newcomer_plugins" / "spots.py")
    # prepare reruns (and draws, which draws from the source: without redraws a no-op); its
    # splits come out byte-identical, so nothing after them does
    assert ran(sh(["dvc", "repro"], workspace, env)) == {
        "plugin_code@newcomer_plugins", "plugins", "prepare@spots", "draws@spots"}


def test_closure_follows_a_package_outside_the_repository(tmp_path, monkeypatch) -> None:
    """A plugin package on the path is followed, with its own helpers, but installed libraries
    (numpy) and the standard library are not.
    """
    pkg = tmp_path / "outside_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "source.py").write_text("import json\n\nimport numpy\n\nfrom outside_pkg import util\n")
    (pkg / "util.py").write_text("from benchmark.data import SPLITS\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    closure._is_user_code.cache_clear()
    closure._package_dirs.cache_clear()
    try:
        files = closure.closure("outside_pkg.source")
    finally:
        closure._is_user_code.cache_clear()
        closure._package_dirs.cache_clear()
    assert {pkg / "__init__.py", pkg / "source.py", pkg / "util.py",
            REPO / "benchmark/data.py"} <= files
    assert all(tmp_path in f.parents or REPO in f.parents for f in files)


def test_plugins_stage_writes_one_digest_per_domain_and_one_for_the_methods(
        tmp_path, monkeypatch) -> None:
    from benchmark.config import ConfigError
    from benchmark.stages import plugins

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["plugins"]["code"] = {k: str(REPO / v) for k, v in params["plugins"]["code"].items()}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    plugins.main([])
    for domain, section in params["domains"].items():
        entry = json.loads((tmp_path / f"plugins/domains/{domain}.json").read_text())
        assert entry["name"] == section["source"] and entry["code"]
    methods = json.loads((tmp_path / "plugins/methods.json").read_text())
    assert sorted(methods) == sorted(params["grid"]["methods"])
    before = (tmp_path / "plugins/methods.json").read_text()
    plugins.main([])
    assert (tmp_path / "plugins/methods.json").read_text() == before  # same code, same bytes

    plugins.main(["--folder", "methods"])  # plugin_code@methods
    digest = json.loads((tmp_path / "plugins/code/methods.json").read_text())
    assert digest == {"folder": str(REPO / "methods"),
                      "code": plugins.folder_digest(REPO / "methods")}
    del params["plugins"]["code"]["methods"]  # a method's file DVC would not see change
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match=r"params.yaml: plugins.code: .*/methods/__init__.py "
                       r"\(method 'seed_only' runs it\) lies in none of its folders"):
        plugins.main([])


def test_the_scaffold_writes_a_package_and_every_params_entry(tmp_path, capsys) -> None:
    """`python -m benchmark.new_domain`: the package (entry point, module with its data card)
    and the params entries a domain needs, comments kept; what is left is the loader.
    """
    import importlib.util

    from benchmark.config import ConfigError, parse_params, with_profile
    from benchmark.domain import DOMAINS
    from benchmark.new_domain import main as new_domain

    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    args = ["soil", "--modality", "tabular", "--package", str(tmp_path / "my-soil"),
            "--params", str(params)]
    new_domain(args)
    assert "next: write soil's build()" in capsys.readouterr().out
    module = tmp_path / "my-soil" / "my_soil" / "soil.py"
    toml = (tmp_path / "my-soil" / "pyproject.toml").read_text()
    assert 'soil = "my_soil.soil"' in toml and '"benchmark.domains"' in toml
    raw = yaml.safe_load(params.read_text())
    assert raw["grid"]["domains"][-1] == "soil" and raw["pretrain"]["weights"]["soil"] is None
    assert raw["domains"]["soil"]["source"] == "soil"
    assert raw["plugins"]["code"]["my_soil"] == str((tmp_path / "my-soil").resolve())
    for name, profile in raw["profiles"].items():
        assert profile["domains"]["soil"] == profile["domains"]["biomedical"], name
    assert "# W&B group" in params.read_text()  # comments kept
    spec = importlib.util.spec_from_file_location("my_soil_scaffolded", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)  # registers "soil"
    try:
        composed = with_profile(raw)  # the new entries validate, the source's options included
        parse_params(composed)
        with pytest.raises(NotImplementedError, match=r"Soil\.build: load \["):
            DOMAINS.get("soil")().build(composed["domains"]["soil"]["sizes"], 0)
    finally:
        DOMAINS.unregister("soil")
    before = params.read_text()
    with pytest.raises(ConfigError, match=r"soil\.py: already exists"):
        new_domain(args)
    with pytest.raises(ConfigError, match=r"domain name 'Soil-2'"):
        new_domain(["Soil-2", *args[1:]])
    assert params.read_text() == before  # nothing written by a refused scaffold
