"""``plugins``: a digest of each domain source's code and of the grid's methods' code.

A domain source or a method is a plugin found through an entry point, so its file may live in
the user's own package outside this repository, where no ``deps`` entry of ``dvc.yaml`` can name
it. DVC runs this stage on every ``dvc repro`` (``always_changed``); ``prepare@d`` depends on
``plugins/domains/d.json`` and ``construct@d`` on ``plugins/methods.json``, and DVC reruns them
only when a digest's content changes. Cheap by design: it reads ``params.yaml``, entry-point
metadata and source files (``benchmark.closure``), and imports no plugin, torch or Lightning.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.closure import code_digest
from benchmark.config import PARAMS_FILE, read_yaml
from benchmark.io import atomic_write_json
from benchmark.paths import METHODS_CODE, PLUGINS, domain_code
from benchmark.registry import DOMAINS, METHODS, Registry
from benchmark.stages import run


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def plugin_code(registry: Registry[type], name: str) -> dict[str, str | None]:
    """Which module registers ``name`` and a hash of the code it runs. An unknown name gets no
    hash: the stage that uses it fails with the registry's own message.
    """
    module = registry.module(name)
    return {"name": name, "module": module, "code": code_digest([module]) if module else None}


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    # raw params, tolerantly: a bad params.yaml is reported by the stage that reads it in full
    raw = read_yaml(PARAMS_FILE)
    grid, sections = _mapping(raw.get("grid")), _mapping(raw.get("domains"))
    written: set[Path] = set()
    for name in sorted({*_names(grid.get("domains")), *map(str, sections)}):
        source = _mapping(sections.get(name)).get("source")
        entry = plugin_code(DOMAINS, str(source)) if source is not None else {"name": None}
        atomic_write_json(domain_code(name), entry)
        written.add(domain_code(name))
    for stale in set((PLUGINS / "domains").glob("*.json")) - written:
        stale.unlink()
    methods = _mapping(raw.get("methods"))
    atomic_write_json(METHODS_CODE, {
        name: plugin_code(METHODS, str(_mapping(methods.get(name)).get("use", name)))
        for name in _names(grid.get("methods"))})


if __name__ == "__main__":
    run(main)
