"""Adding a domain takes one file and one registration (domains/README.md).

A throw-away domain, registered from a temporary module through an entry point, passes the
contract tests and runs through the smoke pipeline into the report.
"""

from pathlib import Path

import pytest
import yaml

from tests.workspace import commit, copy_project, sh

pytestmark = pytest.mark.slow

MODULE = '''"""A throw-away domain for the add-a-domain test."""

import numpy as np

from benchmark.data import SPLITS, DomainData, Split
from benchmark.domain import DOMAINS, Domain


@DOMAINS.register("scratch")
class Scratch(Domain):
    """Two Gaussian blobs in four dimensions, one per class; the group is a coin flip that
    moves the blobs a little, and the shift moves every item of test_shift by ``offset`` along
    the first axis. Patterns are class x group, none of them rare: every class and group is
    equally common in every split."""

    modality = "tabular"

    def __init__(self, offset: float = 1.5) -> None:
        self.offset = offset

    def build(self, sizes, seed):
        rng = np.random.default_rng(seed)
        splits = {}
        for name in SPLITS:
            n = sizes[name]
            y, group = rng.integers(0, 2, n), rng.integers(0, 2, n)
            x = rng.normal(0.0, 1.0, (n, 4)) + 2.0 * y[:, None] + 0.3 * group[:, None]
            x[:, 0] += self.offset if name == "test_shift" else 0.0
            splits[name] = Split(x, y, group, {"pattern": 2 * y + group})
        return DomainData("scratch", self.modality, ["a", "b"], ["g0", "g1"], splits,
                          ["a/g0", "a/g1", "b/g0", "b/g1"])
'''


def _plugin(folder: Path) -> Path:
    """The module plus the minimal installed-distribution metadata that registers it."""
    (folder / "scratch_domain.py").write_text(MODULE)
    info = folder / "scratch_domain-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scratch-domain\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[benchmark.domains]\nscratch = scratch_domain\n")
    return folder


def _use_only_scratch(workspace: Path) -> None:
    path = workspace / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["grid"]["domains"] = ["scratch"]
    params["domains"]["scratch"] = {
        "source": "scratch", "seed": 0, "options": {"scratch": {"offset": 2.0}},
        "sizes": {"seed": 60, "pool": 200, "val": 60, "test_id": 100, "test_shift": 100,
                  "reference": 60},
    }
    weights = params.get("pretrain", {}).get("weights")
    if weights is not None:  # one entry per domain section; null = pretrain on the domain itself
        weights["scratch"] = None
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    commit(workspace, "scratch domain")


def test_a_domain_from_one_file_runs_end_to_end(tmp_path_factory) -> None:
    env = {"PYTHONPATH": str(_plugin(tmp_path_factory.mktemp("plugin")))}
    workspace = copy_project(tmp_path_factory.mktemp("add_domain"), "smoke")
    contract = sh(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "tests/test_domains.py", "-k", "scratch"], workspace, env)
    assert "4 passed" in contract and "skipped" not in contract
    _use_only_scratch(workspace)
    sh(["dvc", "repro"], workspace, env)
    summary = (workspace / "reports/summary.md").read_text()
    section = summary.split("## scratch")[1]
    for method in yaml.safe_load((workspace / "params.yaml").read_text())["grid"]["methods"]:
        assert f"| {method} | 1 |" in section
