import copy
import json

import pytest

from benchmark.config import ConfigError, load_params, parse_params, with_profile
from benchmark.profile import apply_profile


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_profile_builds(raw_params, profile) -> None:
    params = parse_params(with_profile(raw_params, profile))
    assert params.profile == profile
    assert params.grid.domains == raw_params["grid"]["domains"]  # a profile never changes them


def test_paper_profile_has_five_seeds_and_bigger_sizes(raw_params) -> None:
    paper = parse_params(with_profile(raw_params, "paper"))
    quick = parse_params(with_profile(raw_params, "quick"))
    assert len(paper.grid.seeds) == 5
    assert paper.domains["biomedical"].sizes.pool > quick.domains["biomedical"].sizes.pool


def _broken(raw: dict, path: str, value) -> dict:
    raw = copy.deepcopy(raw)
    *parents, leaf = path.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[leaf] = value
    return raw


@pytest.mark.parametrize("path, value, message", [
    ("train.max_step", 3, r"train.max_step: unknown key; expected one of \[.*'max_steps'"),
    ("train.max_steps", "many", r"train.max_steps: got 'many', expected int"),
    ("train.lr", -1.0, r"train.lr: got -1.0, expected a positive learning rate"),
    ("construct.rounds", 0, r"construct.rounds: got 0, expected at least 1"),
    ("annotator.error_rate", 1.5, r"annotator.error_rate: got 1.5, expected a probability"),
    ("tracking.mode", "cloud", r"tracking.mode: got 'cloud', expected one of"),
    ("domains.biomedical.source", "nope", r"domains.biomedical.source: unknown domain source"),
    ("domains.biomedical.sizes.pool", 0, r"domains.biomedical.sizes.pool: got 0"),
    ("methods.random", {"balance": True}, r"methods.random.balance: unknown option of"),
    ("methods.random", {"balance_groups": "yes"}, r"methods.random.balance_groups: got 'yes'"),
    ("grid.methods", ["random", "magic"], r"methods: unknown method 'magic'; valid names"),
    ("grid.seeds", [0, 0], r"grid.seeds: got \[0, 0\], expected a non-empty list"),
    ("pretrain.fit.steps", 300, r"pretrain.fit.steps: got 300, expected a mapping"),
    ("pretrain.fit.steps.image", 0, r"pretrain.fit.steps.image: got 0, expected a positive"),
    ("train.curve", ["adaptiv"], r"train.curve: got 'adaptiv', expected a grid entry"),
    ("domains.biomedical.encoder", {"image": {"viw": "rgb"}},
     r"domains\.biomedical\.encoder\.image\.viw: unknown key"),
])
def test_bad_values_name_key_value_and_expectation(raw_params, path, value, message) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_params(_broken(raw_params, path, value), "params.yaml")
    assert str(err.value).startswith("params.yaml: ")


def test_curves_for_some_entries_only(raw_params) -> None:
    params = parse_params(_broken(raw_params, "train.curve", ["adaptive"]))
    assert params.fits_curve("adaptive") and params.fits_curve("adaptive.t1")  # its variants
    assert not params.fits_curve("random")
    assert params.cell("climate", "adaptive", 0)["train"]["curve"] is True
    assert params.cell("climate", "random", 0)["train"]["curve"] is False
    assert parse_params(_broken(raw_params, "train.curve", True)).fits_curve("random")


def test_a_domain_has_encoder_settings_of_its_own(raw_params) -> None:
    params = parse_params(_broken(raw_params, "domains.biomedical.encoder",
                                  {"image": {"view": "rgb", "pooling": "mean"}}))
    own, shared = params.pretrain_for("biomedical").model, params.pretrain.model
    assert (own.image.view, own.image.pooling) == ("rgb", "mean")
    assert own.image.patch_size == shared.image.patch_size and own.width == shared.width
    assert params.pretrain_for("climate") == params.pretrain  # the others keep the shared ones


def test_missing_section_is_reported(raw_params) -> None:
    raw = copy.deepcopy(raw_params)
    del raw["train"]
    with pytest.raises(ConfigError, match="train: missing"):
        parse_params(raw)


def test_profiles_must_set_the_same_keys(raw_params) -> None:
    raw = copy.deepcopy(raw_params)
    raw["profiles"]["smoke"]["construct"] = {"budget": 1}
    with pytest.raises(ConfigError, match=r"profiles.smoke.*construct.rounds"):
        parse_params(raw)


def test_apply_profile_is_reversible_and_keeps_comments(tmp_path) -> None:
    from tests.conftest import REPO

    path = tmp_path / "params.yaml"
    original = (REPO / "params.yaml").read_text()
    path.write_text(original)
    apply_profile("smoke", path)
    smoked = path.read_text()
    assert "profile: smoke" in smoked and "# the tests" in smoked
    assert "budget: 40" in smoked
    apply_profile("quick", path)
    assert path.read_text() == original
    for order in (["paper", "quick"], ["smoke", "paper", "quick"], ["paper", "smoke", "quick"]):
        for name in order:  # byte for byte, through the longest values too (comment columns)
            apply_profile(name, path)
        assert path.read_text() == original, order


def test_a_domain_no_profile_lists_keeps_its_own_sizes(tmp_path) -> None:
    """A domain added without profile entries runs at its own section's sizes under every
    profile; one listed by some profiles but not all is refused (switching would not revert).
    """
    from ruamel.yaml import YAML

    from tests.conftest import REPO

    yaml = YAML()
    doc = yaml.load((REPO / "params.yaml").read_text())
    doc["domains"]["soil"] = copy.deepcopy(doc["domains"]["robotics"])
    doc["domains"]["soil"]["sizes"]["pool"] = 777
    doc["pretrain"]["weights"]["soil"] = None
    path = tmp_path / "params.yaml"
    with path.open("w") as fh:
        yaml.dump(doc, fh)
    for profile in ("smoke", "paper", "quick"):
        apply_profile(profile, path)
        params = load_params(path)
        assert params.domains["soil"].sizes.pool == 777, profile
        assert params.domains["robotics"].sizes.pool != 777
    doc["profiles"]["smoke"]["domains"]["soil"] = {"sizes": {"pool": 100}}
    with pytest.raises(ConfigError, match="same keys in every profile"):
        parse_params(json.loads(json.dumps(doc)), "params.yaml")


def test_a_profile_cannot_create_a_domain_section(raw_params) -> None:
    """A misspelled domain under a profile names the profile key, not `source: missing`."""
    raw = copy.deepcopy(raw_params)
    for overlay in raw["profiles"].values():
        overlay["domains"]["dermatology"] = {"sizes": overlay["domains"]["biomedical"]["sizes"]}
    with pytest.raises(ConfigError, match=r"profiles.smoke.domains: got 'dermatology', expected "
                                          r"a domain with a section under domains"):
        with_profile(raw, "smoke")
    with pytest.raises(ConfigError, match=r"params.yaml: profiles.\w+.domains: got 'dermatology'"):
        parse_params(raw, "params.yaml")
