"""Reading and validating ``params.yaml`` as a whole: YAML errors in one line, profiles
merged in, and the checks that span sections (plugins and their options, weights, tuning)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from benchmark.config.convert import ConfigError, build, deep_merge, join, plugin_options, require
from benchmark.config.sections import POSTPROCESSORS, Params

PARAMS_FILE = Path("params.yaml")


def parse_params(raw: Mapping[str, Any], source: str = str(PARAMS_FILE)) -> Params:
    """Validate a raw params mapping, including the plugins it names."""
    try:
        params = build(Params, raw, "")
        _check_plugins(params)
        _check_weights(params)
        require(not (params.grid.tune and params.tuning.seeds), "tuning.seeds",
                 params.tuning.seeds, "empty with grid.tune here: tuning apart from the "
                 "reported seeds runs as two phases through `python -m benchmark.experiment "
                 "run` (or clear it to choose on the reported seeds)")
        for domain in params.grid.domains:  # a domain's own encoder settings build
            params.pretrain_for(domain)
        for entry in [] if isinstance(params.train.curve, bool) else params.train.curve:
            require(entry in params.grid.methods or entry in params.methods, "train.curve",
                     entry, f"a grid entry or a methods entry (grid.methods "
                     f"{params.grid.methods})")
        if params.grid.tune:
            params = _tuned(params)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return params


def _tuned(params: Params) -> Params:
    """With ``grid.tune``: every grid entry that has a tuning grid replaced by one variant per
    setting (``benchmark.tuning.expand``), each setting checked against the method's options.
    """
    from benchmark import tuning
    from benchmark.registry import METHODS

    grids = params.tuning.grids
    for entry in grids:
        require(entry in params.grid.methods or entry in params.methods, "tuning.grids",
                 entry, f"a grid entry or a methods entry (grid.methods {params.grid.methods})")
    entries, methods = tuning.expand(params.grid.methods, params.methods, grids)
    tuned = dataclasses.replace(params, grid=dataclasses.replace(params.grid, methods=entries),
                                methods=methods)
    for name in entries:
        if name not in params.grid.methods:
            plugin_options(METHODS.get(tuned.method_plugin(name)), tuned.method_options(name),
                           f"tuning.grids.{tuning.entry_of(name)}")
    return tuned


def _check_plugins(params: Params) -> None:
    from benchmark.registry import DOMAINS, METHODS, PluginLoadError, UnknownNameError

    for name in params.grid.domains:
        require(name in params.domains, "grid.domains", name,
                 f"a domain with a section under domains (have {sorted(params.domains)})")
    for name, dom in params.domains.items():
        try:
            DOMAINS.get(dom.source)
        except (UnknownNameError, PluginLoadError) as err:
            raise ConfigError(f"domains.{name}.source: {err}") from None
        for opt_source in dom.options:
            require(opt_source in DOMAINS, f"domains.{name}.options", opt_source,
                     f"a registered domain source, one of {DOMAINS.names()}")
            plugin_options(DOMAINS.get(opt_source), dom.options[opt_source],
                           f"domains.{name}.options.{opt_source}")
        if dom.transfer_from is not None:
            plugin_options(DOMAINS.get(dom.source), dom.transfer_from.options,
                           f"domains.{name}.transfer_from.options")
        if params.replicates.redraw and name in params.grid.domains:
            require(DOMAINS.get(dom.source).simulated, "replicates.redraw", True,
                     f"simulator sources only: domains.{name}.source {dom.source!r} is not a "
                     "simulator, and its redraws would reuse items its encoder and generator "
                     "learnt on")
    for name in sorted(set(params.grid.methods) | set(params.methods)):
        plugin = params.method_plugin(name)
        require(plugin == name or plugin not in params.methods
                 or params.method_plugin(plugin) == plugin, f"methods.{name}.use", plugin,
                 "a registered method, not another variant")
        try:
            method = METHODS.get(plugin)
        except (UnknownNameError, PluginLoadError) as err:
            key = f"methods.{name}.use" if plugin != name else "methods"
            raise ConfigError(f"{key}: {err}") from None
        plugin_options(method, params.method_options(name), f"methods.{name}")
        for domain, entries in params.tuning.chosen.items():
            if name in entries:
                plugin_options(method, params.method_options(name, domain),
                               f"tuning.chosen.{domain}.{name}")
        post = params.postprocess(name)
        require(post is None or post in POSTPROCESSORS, f"methods.{name}.postprocess", post,
                 f"null or one of {list(POSTPROCESSORS)}")
    require(params.report.baseline in (*params.grid.methods, "strongest"), "report.baseline",
             params.report.baseline, f"'strongest' or one of grid.methods "
             f"{params.grid.methods} (paired differences need the baseline's own cells)")
    study = {params.method_plugin(m) for m in params.report.study}
    require(params.report.baseline != "strongest" or any(
        params.method_plugin(m) not in study for m in params.grid.methods), "report.baseline",
        "strongest", f"a grid with a baseline: a method other than report.study {sorted(study)}")
    for ref in params.report.cost_references:
        require(ref in params.grid.methods, "report.cost_references", ref,
                 f"one of grid.methods {params.grid.methods}")
    for name, overlay in params.profiles.items():
        _check_profile_domains(name, overlay, params.domains)


def _check_weights(params: Params) -> None:
    """Every domain names its encoder weights (null = pretrain in the pipeline), because each
    ``pretrain@domain`` stage depends on exactly its own entry.
    """
    weights = params.pretrain.weights
    require(set(weights) == set(params.domains), "pretrain.weights", sorted(weights),
             f"one entry per domain, {sorted(params.domains)} (null to pretrain here)")


def _check_profiles(profiles: Mapping[str, Mapping[str, Any]]) -> None:
    """All profiles set the same keys: each is the whole scale, which no section sets."""
    key_sets = {name: set(_flatten(overlay)) for name, overlay in profiles.items()}
    union = set().union(*key_sets.values()) if key_sets else set()
    for name, keys in key_sets.items():
        missing = sorted(union - keys)
        require(not missing, f"profiles.{name}", f"no {missing}",
                 "the same keys in every profile (the whole scale: no section sets them)")


def _check_profile_domains(name: str, overlay: Any, domains: Mapping[str, Any]) -> None:
    """A profile adds no domain: merged in, a misspelled name would become a sizes-only
    section that then fails as ``domains.<typo>.source: missing``.
    """
    listed = overlay.get("domains") if isinstance(overlay, Mapping) else None
    listed = listed if isinstance(listed, Mapping) else {}
    for domain in listed:
        require(domain in domains, f"profiles.{name}.domains", domain,
                 f"a domain with a section under domains (have {sorted(domains)}); a profile "
                 "only sizes the domains params.yaml defines")


def _check_scale_only_in_profiles(raw: Mapping[str, Any],
                                  profiles: Mapping[str, Any]) -> None:
    """A key the profiles set must not be set in a section too: it would never be used."""
    base = set(_flatten({k: v for k, v in raw.items() if k not in ("profile", "profiles")}))
    prefixes = {p for key in base for p in _prefixes(key)}
    for name, overlay in profiles.items():
        for key in _flatten(overlay) if isinstance(overlay, Mapping) else {}:
            clash = key in prefixes or any(p in base for p in _prefixes(key))
            require(not clash, key, "set here and in profiles",
                    f"only under profiles.<profile>.{key}: the profile ({name} and every "
                    "other) sets it, so a value here would never be used")


def _prefixes(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = join(prefix, str(key))
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def yaml_error(err: Exception, path: str | None = None) -> str:
    """One line for a PyYAML or ruamel.yaml syntax error: file, line, column and the problem
    (their own message spans several lines with a source excerpt).
    """
    mark = getattr(err, "problem_mark", None)
    name = path or (getattr(mark, "name", None) if mark is not None else None) or "params.yaml"
    where = f"{name}: line {mark.line + 1}, column {mark.column + 1}" if mark else name
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: params file not found (run from the repository root)")
    try:
        with path.open() as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as err:
        raise ConfigError(yaml_error(err, str(path))) from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({err.strerror})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    """Read ``params.yaml``, compose its ``profile`` over the sections, and validate."""
    raw = read_yaml(path)
    try:
        merged = with_profile(raw)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    try:
        return parse_params(merged, str(path))
    except ConfigError as err:
        raise ConfigError(as_written(str(err), path)) from None


def as_written(message: str, path: str | Path = PARAMS_FILE) -> str:
    """``message`` (``<path>: <key>: ...``) naming the key where the file sets it: a scale
    key (``construct.budget``) under ``profiles.<profile>``, the place to edit it.
    """
    head = f"{path}: "
    key, sep, rest = message.removeprefix(head).partition(": ")
    if not message.startswith(head) or not sep or " " in key:
        return message
    try:
        raw = read_yaml(path)
    except (ConfigError, OSError):
        return message
    profile = raw.get("profile")
    overlay = (raw.get("profiles") or {}).get(profile) if isinstance(profile, str) else None
    if not isinstance(overlay, Mapping) or _has(raw, key) or not _has(overlay, key):
        return message
    return f"{head}profiles.{profile}.{key}: {rest}"


def _has(tree: Any, key: str) -> bool:
    for part in key.split("."):
        if not isinstance(tree, Mapping) or part not in tree:
            return False
        tree = tree[part]
    return True


def with_profile(raw: Mapping[str, Any], profile: str | None = None) -> dict[str, Any]:
    """The params a stage reads: the file ``raw`` (its sections and ``profiles``) with the
    overlay ``profiles[profile]`` merged in (default: the file's own ``profile``). Experiments
    compose their overlays on top of this (``benchmark.experiment``); nothing writes it back.
    """
    profiles = raw.get("profiles") or {}
    profile = raw.get("profile") if profile is None else profile
    if profile not in profiles:
        raise ConfigError(f"profile: got {profile!r}, expected one of {sorted(profiles)}")
    domains = raw.get("domains") or {}
    for name, overlay in profiles.items():
        _check_profile_domains(name, overlay, domains)
        listed = (overlay.get("domains") if isinstance(overlay, Mapping) else None) or {}
        for domain in domains:  # in the file: every domain's sizes are per profile
            entry = listed.get(domain) if isinstance(listed, Mapping) else None
            require(isinstance(entry, Mapping) and "sizes" in entry,
                    f"profiles.{name}.domains.{domain}.sizes", "missing",
                    "sizes here for every domain (the scale is per profile)")
    _check_profiles(profiles)
    _check_scale_only_in_profiles(raw, profiles)
    merged = deep_merge(dict(raw), profiles[profile])
    merged["profile"] = profile
    return merged


def file_form(merged: Mapping[str, Any]) -> dict[str, Any]:
    """The params-file form of composed params (an experiment's, overlays included): the keys
    its profile sets, and every domain's sizes, moved under ``profiles[profile]``, its only
    profile, so that ``with_profile`` of the result gives ``merged`` back and DVC sees each
    effective value where ``dvc.yaml`` looks for it (``profiles.${profile}...``).
    """
    profile = merged["profile"]
    keys = [k for k in _flatten(merged["profiles"][profile]) if not k.startswith("domains.")]
    keys += [f"domains.{d}.sizes" for d in merged.get("domains") or {}]
    sections = copy.deepcopy({k: v for k, v in merged.items() if k != "profiles"})
    overlay: dict[str, Any] = {}
    for key in keys:
        *parents, leaf = key.split(".")
        trail, out = [sections], overlay
        for part in parents:
            trail.append(trail[-1][part])
            out = out.setdefault(part, {})
        out[leaf] = trail[-1].pop(leaf)
        for parent, part in zip(trail[-2::-1], parents[::-1], strict=True):
            if not parent[part]:  # emptied by the move (pretrain.fit.steps)
                del parent[part]
    return {**sections, "profiles": {profile: overlay}}
