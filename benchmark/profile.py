"""Switch ``params.yaml`` to a named profile (``smoke``, ``quick``, ``paper``).

A profile is an overlay in the ``profiles`` section; applying it writes its values into the stage
sections (comments and layout preserved), so DVC sees concrete params and reruns exactly the
stages whose values changed. Every profile sets the same keys, so switching is reversible.

    python -m benchmark.profile smoke
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError

from benchmark.config import PARAMS_FILE, ConfigError, parse_params, with_profile
from benchmark.io import atomic_write
from benchmark.stages import run, yaml_error


def apply_profile(name: str, path: str | Path = PARAMS_FILE) -> None:
    """Merge ``profiles[name]`` into ``path`` in place, after validating the result."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # keep flow-style lines as written
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: params file not found (run from the repository root)")
    try:
        doc = yaml.load(path.read_text())
    except YAMLError as err:
        raise ConfigError(yaml_error(err, str(path))) from None
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level, got "
                          f"{type(doc).__name__}")
    try:
        merged = with_profile(_plain(doc), name)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    parse_params(merged, str(path))  # fail before writing anything
    _merge_into(doc, doc["profiles"][name])
    doc["profile"] = name
    atomic_write(path, lambda fh: yaml.dump(doc, fh))


def _merge_into(doc: MutableMapping[str, Any], overlay: Mapping[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(doc.get(key), MutableMapping):
            _merge_into(doc[key], value)
        else:
            doc[key] = copy.deepcopy(value)


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Apply a named profile to params.yaml.")
    parser.add_argument("profile")
    parser.add_argument("--params", default=str(PARAMS_FILE))
    args = parser.parse_args(argv)
    apply_profile(args.profile, args.params)


if __name__ == "__main__":
    run(main)  # like a stage: a bad profile name or params file ends in one line
