"""Equal tuning: grids expand into variants at load time, the report keeps each entry's best
setting on val and compares against the strongest baseline on val."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmark import tuning
from benchmark.config import ConfigError, parse_params


def test_grids_expand_into_one_variant_per_setting() -> None:
    entries, methods = tuning.expand(
        ["seed_only", "scale_only", "nofair"],
        {"scale_only": {"real": 600}, "nofair": {"use": "adaptive", "fairness": 0.0}},
        {"scale_only": {"synthetic": [0, 200], "pseudo_precision": [0.9, 0.99]},
         "nofair": {"synthetic_share": [0.0]}})
    assert entries == ["seed_only", "scale_only.t0", "scale_only.t1", "scale_only.t2",
                       "scale_only.t3", "nofair.t0"]
    assert methods["scale_only.t2"] == {"use": "scale_only", "real": 600, "synthetic": 200,
                                        "pseudo_precision": 0.9}
    assert methods["nofair.t0"] == {"use": "adaptive", "fairness": 0.0, "synthetic_share": 0.0}
    assert tuning.entry_of("scale_only.t3") == "scale_only" and tuning.entry_of("a.b") == "a.b"
    grids = {"scale_only": {"synthetic": [0, 200], "pseudo_precision": [0.9, 0.99]}}
    assert tuning.setting_of("scale_only.t1", grids) == {"synthetic": 0, "pseudo_precision": 0.99}


def test_params_with_tune_run_every_setting_and_check_it(raw_params) -> None:
    raw = {**raw_params, "grid": {**raw_params["grid"], "tune": True}}
    params = parse_params(raw)
    assert "scale_only.t1" in params.grid.methods and "scale_only" not in params.grid.methods
    assert params.method_plugin("scale_only.t1") == "scale_only"
    settings = params.tuning.grids["scale_only"]  # synthetic x pseudo_label, in that order
    assert params.method_options("scale_only.t2")["synthetic"] == settings["synthetic"][1]
    assert params.method_options("scale_only.t1")["pseudo_label"] == settings["pseudo_label"][1]
    bad = {**raw, "tuning": {"grids": {"scale_only": {"synthetic": ["many"]}}}}
    with pytest.raises(ConfigError, match="tuning.grids.scale_only.synthetic"):
        parse_params(bad)
    test = {**raw, "tuning": {"metric": "test_shift/acc"}}
    with pytest.raises(ConfigError, match="tuning.metric.*never chosen on a test split"):
        parse_params(test)


def _cells() -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for method, val, shift in (("random.t0", 0.70, 0.60), ("random.t1", 0.80, 0.50),
                                   ("scale_only.t0", 0.75, 0.90), ("adaptive", 0.90, 0.95)):
            rows.append({"domain": "d", "method": method, "seed": seed, "val/acc": val,
                         "test_shift/acc": shift})
    return pd.DataFrame(rows)


def test_the_best_setting_on_val_is_kept_whatever_test_says() -> None:
    grids = {"random": {"balance_groups": [False, True]}, "scale_only": {"synthetic": [0]}}
    chosen, table = tuning.select(_cells(), "val/acc", grids)
    kept = chosen.groupby("method").first()
    assert kept.loc["random", "variant"] == "random.t1"  # better on val, worse on test
    assert kept.loc["random", "test_shift/acc"] == 0.50
    assert set(chosen.method) == {"random", "scale_only", "adaptive"} and len(chosen) == 6
    row = table[(table.variant == "random.t1")].iloc[0]
    assert bool(row.chosen) and row.setting == "balance_groups=True" and row.n_seeds == 2
    assert tuning.strongest(chosen, ["random", "scale_only"], "val/acc") == {"d": "random"}


def test_redraws_need_simulator_sources(raw_params) -> None:
    domains = {**raw_params["domains"], "biomedical": {
        **raw_params["domains"]["biomedical"], "source": "medmnist"}}
    raw = {**raw_params, "domains": domains, "replicates": {"redraw": True}}
    with pytest.raises(ConfigError, match="replicates.redraw.*'medmnist' is not a simulator"):
        parse_params(raw)
    assert parse_params({**raw_params, "replicates": {"redraw": True}}).replicates.redraw


def test_settings_chosen_on_tuning_replicates_apply_per_domain(raw_params) -> None:
    chosen = {"climate": {"scale_only": {"synthetic": 0, "pseudo_label": False}}}
    params = parse_params({**raw_params, "tuning": {**raw_params["tuning"], "chosen": chosen}})
    assert params.method_options("scale_only", "climate")["synthetic"] == 0
    assert params.method_options("scale_only", "robotics")["synthetic"] == 200  # the default
    assert params.cell("climate", "scale_only", 0)["method_options"]["pseudo_label"] is False
    bad = {"climate": {"scale_only": {"synthetic": "many"}}}
    with pytest.raises(ConfigError, match="tuning.chosen.climate.scale_only.synthetic"):
        parse_params({**raw_params, "tuning": {**raw_params["tuning"], "chosen": bad}})
    both = {**raw_params, "grid": {**raw_params["grid"], "tune": True},
            "tuning": {**raw_params["tuning"], "seeds": [100]}}
    with pytest.raises(ConfigError, match="tuning.seeds.*two phases"):
        parse_params(both)
