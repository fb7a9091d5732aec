"""Raw YAML values -> typed dataclasses: the checks every section shares (unknown, missing,
wrong type or out of range: the dotted key, the value and what was expected)."""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin


class ConfigError(ValueError):
    """A params value that is missing, unknown, of the wrong type or out of range."""


def require(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: got {value!r}, expected {expected}")


def check_type(value: Any, hint: Any, key: str) -> Any:
    """Return ``value`` converted to ``hint`` (dataclasses recursively) or raise ConfigError."""
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key)
    if origin in (Union, types.UnionType):
        built = [o for o in get_args(hint) if dataclasses.is_dataclass(o)]
        if len(built) == 1 and isinstance(value, Mapping):  # say which key is wrong inside
            return build(built[0], value, key)
        for option in get_args(hint):
            try:
                return check_type(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: got {value!r}, expected {_name(hint)}")
    if origin in (list, Sequence):
        require(isinstance(value, list), key, value, _name(hint))
        (item,) = get_args(hint)
        return [check_type(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        require(isinstance(value, dict), key, value, "a mapping")
        _, item = get_args(hint)
        return {k: check_type(v, item, f"{key}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is type(None):
        require(value is None, key, value, "null")
        return None
    if hint is float:
        require(isinstance(value, (int, float)) and not isinstance(value, bool), key, value,
                 "a number")
        return float(value)
    require(isinstance(value, hint) and not (hint is int and isinstance(value, bool)), key,
             value, _name(hint))
    return value


def _name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def build(cls: Any, data: Any, key: str) -> Any:
    """Build dataclass ``cls`` from mapping ``data``: no unknown keys, no missing ones."""
    require(isinstance(data, Mapping), key, data, f"a mapping for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{join(key, unknown[0])}: unknown key; "
                          f"expected one of {sorted(fields)}")
    kwargs = {}
    for name, f in fields.items():
        sub = join(key, name)
        if name in data:
            kwargs[name] = check_type(data[name], hints[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{sub}: missing; expected {_name(hints[name])}")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{join(key, str(err))}") from None


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def plugin_options(plugin: type, options: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Check ``options`` against the keyword arguments of ``plugin.__init__``."""
    sig = inspect.signature(plugin.__init__)
    hints = typing.get_type_hints(plugin.__init__)
    accepted = {n: p for n, p in sig.parameters.items() if n != "self"}
    checked = {}
    for name, value in options.items():
        if name not in accepted:
            raise ConfigError(f"{join(key, name)}: unknown option of {plugin.__name__}; "
                              f"expected one of {sorted(accepted)}")
        checked[name] = check_type(value, hints.get(name, Any), join(key, name))
    return checked


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def as_dict(params: Any) -> dict[str, Any]:
    """A plain-dict view of a params dataclass (for W&B config and fingerprints)."""
    return dataclasses.asdict(params)
