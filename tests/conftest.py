"""Shared fixtures: the real params shrunk to the smoke profile, and a tiny in-memory domain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.config import Params, parse_params, read_yaml, with_profile
from benchmark.data import SPLITS, DomainData, Split

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def params_file() -> dict:
    """``params.yaml`` as written: sections, ``profile`` and the ``profiles`` overlays."""
    return read_yaml(REPO / "params.yaml")


@pytest.fixture(scope="session")
def raw_params(params_file: dict) -> dict:
    """The raw params a stage validates: the file with its own profile composed in."""
    return with_profile(params_file)


@pytest.fixture(scope="session")
def smoke_params(params_file: dict) -> Params:
    return parse_params(with_profile(params_file, "smoke"))


def make_domain(n: int = 40, n_classes: int = 3, seed: int = 0) -> DomainData:
    """A linearly separable tabular domain: class c sits at a distinct corner."""
    rng = np.random.default_rng(seed)
    splits = {}
    for k, name in enumerate(SPLITS):
        y = rng.integers(0, n_classes, n)
        x = rng.normal(0, 0.3, (n, 4)).astype(np.float32)
        x[np.arange(n), y] += 2.0
        if name == "test_shift":
            x += 0.8
        group = (np.arange(n) + k) % 2
        splits[name] = Split(x, y, group, {"pattern": y * 2 + group})
    return DomainData("toy", "tabular", [f"c{c}" for c in range(n_classes)], ["g0", "g1"], splits)


@pytest.fixture
def toy_domain() -> DomainData:
    return make_domain()


@pytest.fixture(scope="session")
def toy() -> DomainData:
    """The tiny domain the method and loop tests construct on."""
    return make_domain()


@pytest.fixture(scope="session")
def resources(toy: DomainData, smoke_params: Params, tmp_path_factory: pytest.TempPathFactory):
    """Real upstream artifacts of ``toy`` at tiny sizes (tests/toy_upstream.py), built once."""
    from dataclasses import replace

    from tests.toy_upstream import build_resources

    params = replace(smoke_params, patterns=replace(smoke_params.patterns, k=3, top=1))
    return build_resources(toy, params, tmp_path_factory.mktemp("upstream"))


@pytest.fixture(scope="session")
def robotics_upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke workspace whose grid is robotics alone (the generator stage trains every grid
    domain) with every stage upstream of ``construct`` built by ``dvc repro``: the end-to-end
    modules that need upstream models copy it (``copy_workspace``) instead of each building
    their own.
    """
    from tests.workspace import build_upstream

    return build_upstream(tmp_path_factory.mktemp("robotics-upstream"), "robotics")
