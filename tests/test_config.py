import copy

import pytest

from benchmark.config import (
    ConfigError,
    as_written,
    file_form,
    load_params,
    parse_params,
    with_profile,
)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_profile_builds(params_file, profile) -> None:
    params = parse_params(with_profile(params_file, profile))
    assert params.profile == profile
    assert params.grid.domains == params_file["grid"]["domains"]  # a profile never changes them


def test_paper_profile_has_five_seeds_and_bigger_sizes(params_file) -> None:
    paper = parse_params(with_profile(params_file, "paper"))
    quick = parse_params(with_profile(params_file, "quick"))
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
    ("grid.workers", 0, r"grid.workers: got 0, expected 'auto' or a positive integer"),
    ("grid.workers", "all", r"grid.workers: got 'all', expected 'auto' or a positive integer"),
    ("grid.extra_seeds", {"robotics": [0]},  # the smoke profile's grid.seeds are [0]
     r"grid.extra_seeds.robotics: got \[0\], expected a list of distinct non-negative seeds"),
    ("grid.extra_seeds", {"mars": [5]}, r"grid.extra_seeds.mars: got 'mars', expected a domain"),
    ("hardware.devices", 2, r"hardware.devices: unknown key; expected one of \['accelerator'"),
    ("report.max_replicates", 1, r"report.max_replicates: got 1, expected null or at least 2"),
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


def test_a_domain_runs_its_extra_seeds_after_the_grid_seeds(raw_params) -> None:
    params = parse_params(_broken(raw_params, "grid.extra_seeds", {"robotics": [7, 3]}))
    assert params.grid.seeds_of("robotics") == [*params.grid.seeds, 7, 3]
    assert params.grid.seeds_of("climate") == params.grid.seeds


def test_auto_workers_are_one_per_usable_core(raw_params, monkeypatch) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert parse_params(_broken(raw_params, "grid.workers", "auto")).grid.cells_at_once() == 3
    assert parse_params(_broken(raw_params, "grid.workers", 7)).grid.cells_at_once() == 7


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


def test_profiles_must_set_the_same_keys(params_file) -> None:
    raw = copy.deepcopy(params_file)
    raw["profiles"]["smoke"]["construct"] = {"budget": 1}
    with pytest.raises(ConfigError, match=r"profiles.smoke.*construct.rounds"):
        with_profile(raw, "quick")  # every profile, not only the selected one


NEWCOMER = """
  soil:
    source: hopper
    seed: 0
    options:
      hopper: {}
"""
SIZES = """
      soil:
        sizes:
          seed: 60
          pool: {pool}
          val: 60
          test_id: 100
          test_shift: 100
          reference: 60
"""


def _with_soil(text: str) -> str:
    """A newcomer's domain written in block style: its section, its weights entry and its
    sizes in every profile, each at a different pool size.
    """
    text = text.replace("\ndomains:", "\ndomains:" + NEWCOMER.rstrip("\n"), 1)
    text = text.replace("robotics: null}", "robotics: null, soil: null}", 1)
    for k, profile in enumerate(("smoke", "quick", "paper")):
        head = f"\n  {profile}:"
        at = text.index("\n    domains:", text.index(head))
        end = at + len("\n    domains:")
        text = text[:end] + SIZES.rstrip("\n").format(pool=300 + k) + text[end:]
    return text


def test_the_profile_line_selects_the_scale_and_the_file_is_never_written(tmp_path) -> None:
    """Profiles compose when params are read: selecting one is its `profile:` line, loading
    writes nothing, and a newcomer's block-style section works under every profile.
    """
    from tests.conftest import REPO
    from tests.workspace import set_profile

    path = tmp_path / "params.yaml"
    path.write_text(_with_soil((REPO / "params.yaml").read_text()))
    for k, profile in enumerate(("smoke", "quick", "paper")):
        set_profile(path, profile)
        before = path.read_bytes()
        params = load_params(path)
        assert path.read_bytes() == before
        assert params.profile == profile and params.domains["soil"].sizes.pool == 300 + k
    assert params.construct.budget == 2000 and params.grid.seeds == [0, 1, 2, 3, 4]
    set_profile(path, "smoke")
    assert load_params(path).construct.budget == 40


def test_a_scale_key_lives_in_the_profiles_only(params_file) -> None:
    raw = copy.deepcopy(params_file)
    raw["construct"]["budget"] = 500  # would never be used: every profile sets it
    with pytest.raises(ConfigError, match=r"construct.budget: got 'set here and in profiles', "
                       r"expected only under profiles.<profile>.construct.budget"):
        with_profile(raw)
    raw = copy.deepcopy(params_file)
    del raw["profiles"]["paper"]["domains"]["climate"]
    with pytest.raises(ConfigError, match=r"profiles.paper.domains.climate.sizes: got 'missing'"):
        with_profile(raw, "quick")  # every profile, not only the selected one
    with pytest.raises(ConfigError, match=r"profile: got 'huge', expected one of \['paper', "):
        with_profile(params_file, "huge")


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_an_experiments_params_file_composes_back(params_file, profile) -> None:
    """An experiment's workspace gets its composed params in the file's form: every scale key
    (its overlay's too) under its profile, which composes back to the same params.
    """
    merged = with_profile(params_file, profile)
    merged["construct"] = {**merged["construct"], "rounds": 9}  # an experiment's overlay
    merged["domains"] = {**merged["domains"], "extra": {
        **merged["domains"]["robotics"], "sizes": {**merged["domains"]["robotics"]["sizes"]}}}
    merged["pretrain"]["weights"] = {**merged["pretrain"]["weights"], "extra": None}
    written = file_form(merged)
    assert "rounds" not in written["construct"] and "sizes" not in written["domains"]["extra"]
    assert written["profiles"][profile]["construct"]["rounds"] == 9
    back = with_profile(written)
    assert {k: v for k, v in back.items() if k != "profiles"} == {
        k: v for k, v in merged.items() if k != "profiles"}
    parse_params(back)


def test_an_error_names_a_scale_key_where_the_file_sets_it(tmp_path) -> None:
    from tests.conftest import REPO

    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text().replace(
        "construct: {budget: 300, rounds: 3}", "construct: {budget: -5, rounds: 3}"))
    with pytest.raises(ConfigError, match=r"params.yaml: profiles.quick.construct.budget: "
                       r"got -5.0, expected a non-negative cost"):
        load_params(path)
    message = f"{path}: train.lr: got -1"  # a section's key stays as it is
    assert as_written(message, path) == message


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
