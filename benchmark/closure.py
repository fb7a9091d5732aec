"""The source files a module runs: its import closure within given top-level packages.

Read statically from the syntax tree (imports inside functions count too), without importing
anything. Followed: the project's packages (``LOCAL``), the module's own top-level package, and
any code that is not an installed library (a plugin package of the user's, editable-installed or
on ``PYTHONPATH``); not the standard library or site-packages (numpy, torch), which change only
with an install. Users: the construct stage fingerprints a method's code with it, so editing a
method reruns its cells with a fresh ledger; the ``plugins`` stage digests each registered
plugin's code, so editing a plugin outside the repository reruns the stages that run it; and a
test checks that every DVC stage lists the files it runs in its ``deps``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import site
import sysconfig
from functools import cache
from pathlib import Path

LOCAL = ("benchmark", "methods", "domains")


@cache
def _library_dirs() -> tuple[Path, ...]:
    """Where the interpreter keeps the standard library and installed packages."""
    dirs = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages())
    dirs.add(site.getusersitepackages())
    return tuple(Path(d).resolve() for d in dirs)


@cache
def _is_user_code(top: str) -> bool:
    """Whether top-level module ``top`` is source outside the interpreter's library dirs."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    places = list(spec.submodule_search_locations or [])
    if spec.origin and spec.origin.endswith(".py"):
        places.append(spec.origin)
    if not places:  # built-in or extension module
        return False
    libs = _library_dirs()
    for place in places:
        path = Path(place).resolve()
        if any(path == lib or lib in path.parents for lib in libs):
            return False
    return True


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
    """Every source file reached from ``module`` through imports within ``tops``, the module's
    own top-level package, or user code outside the installed libraries.
    """
    tops = (*tops, module.split(".")[0])
    seen: set[str] = set()
    files: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        top = name.split(".")[0]
        if top not in tops and not _is_user_code(top):
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
