"""The source files a module runs: its import closure within given top-level packages.

Read statically from the syntax tree (imports inside functions count too), without importing
anything. Two users: the construct stage fingerprints a method's code with it, so editing a
method reruns its cells with a fresh ledger, and a test checks that every DVC stage lists the
files it runs in its ``deps``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import cache
from pathlib import Path

LOCAL = ("benchmark", "baselines", "domains")


@cache
def _package_dirs(top: str) -> tuple[Path, ...]:
    spec = importlib.util.find_spec(top)
    if spec is None:
        return ()
    return tuple(Path(p) for p in (spec.submodule_search_locations or []))


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``)."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top) if not rest else None
    if spec is not None and spec.origin and spec.origin.endswith(".py") and not rest:
        return Path(spec.origin)
    for base in _package_dirs(top):
        stem = base.joinpath(*rest)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if rest and candidate.is_file():
                return candidate
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Modules named by the imports of one file (relative ones resolved), and their parents
    where ``from pkg import name`` may name a submodule.
    """
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def closure(module: str, tops: tuple[str, ...] = LOCAL) -> set[Path]:
    """Every source file reached from ``module`` through imports within ``tops``."""
    tops = (*tops, module.split(".")[0])
    seen: set[str] = set()
    files: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in tops:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        files.add(path)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        todo.extend(_imports(path, name))
    return files


def code_digest(modules: list[str]) -> str:
    """A hash of the source of every file the given modules run."""
    content = hashlib.sha256()
    for path in sorted({p for m in modules for p in closure(m)}):
        content.update(path.name.encode())
        content.update(path.read_bytes())
    return content.hexdigest()
