"""Transfer domains (``domains.<d>.transfer_from``): prepare writes the other site's seed + pool
beside the domain's own splits, and the encoder and generator learn there."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmark.config import ConfigError, file_form, parse_params, with_profile
from benchmark.data import load_domain, load_learning_data
from benchmark.paths import domain_dir, transfer_dir
from benchmark.stages import prepare

TRANSFER = {"seed": 1, "options": {"site_weights": [1, 0, 0], "rare_share": 0.33}}


def _params(params_file: dict, transfer: dict | None) -> dict:
    """The smoke profile plus ``twin``, biomedical again, learning at ``transfer`` if given."""
    raw = with_profile(copy.deepcopy(params_file), "smoke")
    twin = copy.deepcopy(raw["domains"]["biomedical"])
    if transfer is not None:
        twin["transfer_from"] = transfer
    raw["domains"]["twin"] = twin
    raw["pretrain"]["weights"]["twin"] = None
    return raw


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, params_file: dict):
    """An empty project folder whose params.yaml is written by the test (stages read it)."""
    monkeypatch.chdir(tmp_path)

    def write(transfer: dict | None) -> None:
        (tmp_path / "params.yaml").write_text(
            yaml.safe_dump(file_form(_params(params_file, transfer))))
    return write


def test_the_twin_learns_at_the_other_site_and_keeps_its_own_splits(workdir) -> None:
    workdir(TRANSFER)
    prepare.main(["twin"])
    prepare.main(["biomedical"])
    twin, own = load_domain(domain_dir("twin")), load_domain(domain_dir("biomedical"))
    for split in ("seed", "pool", "test_shift"):  # construction and tests: the domain's own
        np.testing.assert_array_equal(twin[split].x, own[split].x)
    learn = load_learning_data(domain_dir("twin"))
    assert set(learn.splits) == {"seed", "pool"}
    assert len(learn["pool"]) == len(own["pool"])
    assert set(np.unique(learn["pool"].meta["site"])) == {0}  # site0's slides only
    assert set(np.unique(own["pool"].meta["site"])) == {0, 1, 2}
    assert twin.info["transfer_from"]["options"]["site_weights"] == [1, 0, 0]
    np.testing.assert_array_equal(load_learning_data(domain_dir("biomedical"))["pool"].x,
                                  own["pool"].x)


def test_a_missing_other_site_is_an_error_not_a_fallback(workdir) -> None:
    workdir(TRANSFER)
    prepare.main(["twin"])
    shutil.rmtree(transfer_dir("twin"))
    with pytest.raises(FileNotFoundError, match="transfer_from"):
        load_learning_data(domain_dir("twin"))


def test_turning_transfer_off_removes_the_other_site(workdir) -> None:
    workdir(TRANSFER)
    prepare.main(["twin"])
    workdir(None)
    prepare.main(["twin"])
    assert not transfer_dir("twin").exists()
    assert "transfer_from" not in load_domain(domain_dir("twin"), splits=()).info


def test_the_other_site_must_have_the_domains_inputs(workdir) -> None:
    workdir({"seed": 1, "options": {"image_size": 24}})
    with pytest.raises(ConfigError, match=r"domains\.twin\.transfer_from: the other site has "
                                          r"input shape \(3, 24, 24\); expected .*\(3, 16, 16\)"):
        prepare.main(["twin"])
    assert not Path("data").exists()  # nothing written


@pytest.mark.parametrize("transfer, match", [
    ({"seed": 1, "options": {"nope": 1}}, r"domains\.twin\.transfer_from\.options\.nope: "
                                          "unknown option of CellImages"),
    ({"options": {}}, r"domains\.twin\.transfer_from\.seed: missing"),
    ({"seed": 1, "options": {"site_weights": "site0"}},
     r"domains\.twin\.transfer_from\.options\.site_weights: got 'site0'"),
])
def test_bad_transfer_params_name_the_key(params_file: dict, transfer: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_params(_params(params_file, transfer))


def test_a_bad_site_share_is_an_option_error_naming_the_key(workdir) -> None:
    workdir({"seed": 1, "options": {"site_weights": [1, 0]}})
    with pytest.raises(ConfigError, match=r"domains\.twin\.transfer_from\.options\."
                                          r"site_weights: got \[1, 0\], expected 3"):
        prepare.main(["twin"])
