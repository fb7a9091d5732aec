"""``plugin_code`` and ``plugins``: digests of the plugin code the pipeline runs.

A domain source, a method or a modality is a plugin found through an entry point, so its file
may live in the user's own package outside this repository. ``params.yaml`` names every folder
that holds plugin code (``plugins.code``); ``plugin_code@<name>`` depends on that folder and
writes a digest of its Python files, so DVC notices an edit there like any other. ``plugins``
then writes a digest per domain source, one for the grid's methods and one for every modality,
each followed through its imports (``benchmark.closure``), after checking that every file it
follows lies in a listed folder or in ``benchmark/``. ``prepare@d`` depends on
``plugins/domains/d.json``, ``construct@d`` on ``plugins/methods.json`` and every stage that
runs modality code on ``plugins/modalities.json``, so DVC reruns them only when a digest's
content changes. Cheap by design: it reads ``params.yaml``, entry-point metadata and source
files, and imports no plugin, torch or Lightning.

    python -m benchmark.stages.plugins --folder methods     # plugin_code@methods
    python -m benchmark.stages.plugins                      # plugins
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.closure import closure, code_digest
from benchmark.config import PARAMS_FILE, ConfigError, PluginsParams, read_yaml, with_profile
from benchmark.io import atomic_write_json
from benchmark.modalities import MODALITIES
from benchmark.paths import METHODS_CODE, MODALITIES_CODE, PLUGINS, domain_code, folder_code
from benchmark.registry import DOMAINS, METHODS, Registry
from benchmark.stages import run

CORE = Path(__file__).resolve().parents[1]  # the harness: every stage lists its files in deps


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _names(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _folders(raw: dict[str, Any]) -> dict[str, Path]:
    """``plugins.code`` as resolved paths (the defaults when the section is absent)."""
    code = _mapping(raw.get("plugins")).get("code")
    code = code if isinstance(code, dict) and code else PluginsParams().code
    return {str(name): Path(str(folder)).resolve() for name, folder in code.items()}


def folder_digest(folder: Path) -> str:
    """A hash of the names and contents of the Python files under ``folder``."""
    content = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        content.update(str(path.relative_to(folder)).encode())
        content.update(path.read_bytes())
    return content.hexdigest()


def write_folder_code(name: str, folder: Path) -> None:
    """``plugin_code@<name>``: compile the folder (so that the stages importing it later write
    no bytecode there: DVC has just hashed it) and write the digest of its sources.
    """
    if not folder.is_dir():
        raise ConfigError(f"{PARAMS_FILE}: plugins.code.{name}: {folder} is not a folder; "
                          "expected the folder of a package holding plugin code")
    compileall.compile_dir(str(folder), quiet=2)
    atomic_write_json(folder_code(name), {"folder": str(folder), "code": folder_digest(folder)})


def plugin_code(registry: Registry[type], name: str,
                folders: dict[str, Path] | None = None) -> dict[str, str | None]:
    """Which module registers ``name`` and a hash of the code it runs. An unknown name gets no
    hash: the stage that uses it fails with the registry's own message. With ``folders``, a
    file of that code outside them (and outside ``benchmark/``) is refused: DVC would not see
    it change.
    """
    module = registry.module(name)
    if module and folders is not None:
        tracked = [CORE, *folders.values()]
        for path in sorted(closure(module)):
            if not any(path == f or f in path.parents for f in tracked):
                raise ConfigError(
                    f"{PARAMS_FILE}: plugins.code: {path} ({registry.kind} {name!r} runs it) "
                    f"lies in none of its folders {sorted(map(str, folders.values()))}; "
                    f"expected its package's folder listed there, e.g. "
                    f"plugins.code.{module.split('.')[0]}: {path.parent}, so that DVC reruns "
                    "its stages when it changes")
    return {"name": name, "module": module, "code": code_digest([module]) if module else None}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="digest only this entry of plugins.code")
    args = parser.parse_args(argv)
    # raw params, tolerantly: a bad params.yaml is reported by the stage that reads it in full
    raw = read_yaml(PARAMS_FILE)
    folders = _folders(raw)
    if args.folder is not None:
        if args.folder not in folders:
            raise ConfigError(f"--folder {args.folder}: not in plugins.code {sorted(folders)}")
        write_folder_code(args.folder, folders[args.folder])
        return
    try:
        raw = with_profile(raw)
    except ConfigError:
        pass  # the sources and methods named are the same under every profile
    grid, sections = _mapping(raw.get("grid")), _mapping(raw.get("domains"))
    written: set[Path] = set()
    for name in sorted({*_names(grid.get("domains")), *map(str, sections)}):
        source = _mapping(sections.get(name)).get("source")
        entry = (plugin_code(DOMAINS, str(source), folders) if source is not None
                 else {"name": None})
        atomic_write_json(domain_code(name), entry)
        written.add(domain_code(name))
    for stale in set((PLUGINS / "domains").glob("*.json")) - written:
        stale.unlink()
    atomic_write_json(MODALITIES_CODE, {  # a modality of your own: its stages rerun on an edit
        name: plugin_code(MODALITIES, name, folders) for name in MODALITIES.names()})
    methods = _mapping(raw.get("methods"))
    atomic_write_json(METHODS_CODE, {
        name: plugin_code(METHODS, str(_mapping(methods.get(name)).get("use", name)), folders)
        for name in _names(grid.get("methods"))})


if __name__ == "__main__":
    run(main)
