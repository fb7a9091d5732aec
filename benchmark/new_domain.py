"""Scaffold a new domain in one command: a package of its own and its ``params.yaml`` entries.

    python -m benchmark.new_domain soil --modality tabular --package ../my-soil

writes ``../my-soil/pyproject.toml`` (the ``benchmark.domains`` entry point) and
``../my-soil/my_soil/soil.py`` (the ``Domain`` class with its data card to fill in and a
``build`` to write), and adds to ``params.yaml`` (comments and layout kept) the domain to
``grid.domains``, its section under ``domains``, its ``pretrain.weights`` entry, its sizes in
every profile (those of the first domain there) and the package's folder under ``plugins.code``
(so that DVC reruns what an edit there touches). What is left is the loader (``build``)
and ``pip install --no-deps -e ../my-soil``; ``domains/README.md`` says what ``build`` must return.
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML, YAMLError

from benchmark.config import PARAMS_FILE, ConfigError, yaml_error
from benchmark.io import atomic_write, atomic_write_text
from benchmark.stages import run

NAME = re.compile(r"[a-z][a-z0-9_]*")  # a Python module name and a params key

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"

[project.entry-points."benchmark.domains"]
{name} = "{package}.{name}"

[tool.setuptools]
packages = ["{package}"]
"""

SHAPES = {"image": "(channels, side, side)", "sequence": "(channels, length)",
          "tabular": "(features,)"}

MODULE = '''"""{title}. Data card: :class:`{cls}`."""

from collections.abc import Mapping

from benchmark.data import SPLITS, DomainData, Split  # noqa: F401  (what build returns)
from benchmark.domain import DOMAINS, Domain


@DOMAINS.register("{name}")
class {cls}(Domain):
    """The data card: where the data comes from and its licence; an item (a float32 array of
    shape {shape}); the classes; the groups (for fairness); the shift (what only test_shift
    holds); the patterns that are rare in the seed set.
    """

    modality = "{modality}"

    def __init__(self, path: str = "raw/{name}") -> None:
        self.path = path  # the keyword arguments are the options in params.yaml

    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """All six splits, at most ``sizes[name]`` items each, the same for the same ``seed``;
        only test_shift holds the shifted distribution (domains/README.md, step 1):

            splits = {{name: Split(x[rows], y[rows], group[rows]) for name, rows in ...}}
            return DomainData("{name}", self.modality, class_names, group_names, splits)
        """
        raise NotImplementedError(f"{{type(self).__name__}}.build: load {{list(SPLITS)}} from "
                                  f"{{self.path}} (domains/README.md, step 1)")
'''


def scaffold(name: str, modality: str, package_dir: Path, params: Path = PARAMS_FILE) -> Path:
    """Write the package and add the domain to ``params``; the module to fill in."""
    if not NAME.fullmatch(name):
        raise ConfigError(f"domain name {name!r}: expected lower-case letters, digits and '_', "
                          "starting with a letter (a module name and a params key)")
    if modality not in SHAPES:
        raise ConfigError(f"--modality: got {modality!r}, expected one of {sorted(SHAPES)}")
    package = re.sub(r"\W", "_", package_dir.resolve().name).strip("_").lower() or name
    module = package_dir / package / f"{name}.py"
    if module.exists():
        raise ConfigError(f"{module}: already exists; not overwritten")
    yaml, doc = _load(params)
    _add_to_params(doc, name, params)
    plugins = doc.setdefault("plugins", {}).setdefault("code", {})
    plugins[package] = str(package_dir.resolve())  # DVC tracks the package's folder
    cls = "".join(part.title() for part in name.split("_"))
    (package_dir / package).mkdir(parents=True, exist_ok=True)
    if not (package_dir / "pyproject.toml").exists():
        atomic_write_text(package_dir / "pyproject.toml", PYPROJECT.format(
            dist=package.replace("_", "-"), name=name, package=package))
    init = package_dir / package / "__init__.py"
    if not init.exists():
        atomic_write_text(init, f'"""Benchmark domains: {name}."""\n')
    atomic_write_text(module, MODULE.format(title=name.replace("_", " ").capitalize(), cls=cls,
                                            name=name, modality=modality,
                                            shape=SHAPES[modality]))
    atomic_write(params, lambda fh: yaml.dump(doc, fh))
    return module


def _load(params: Path) -> tuple[YAML, Any]:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # flow-style lines stay as written
    if not params.is_file():
        raise FileNotFoundError(f"{params}: params file not found (run from the repository root)")
    try:
        return yaml, yaml.load(params.read_text())
    except YAMLError as err:
        raise ConfigError(yaml_error(err, str(params))) from None


def _add_to_params(doc: Any, name: str, params: Path) -> None:
    """The grid entry, the domain's section, its encoder weights entry and its sizes in every
    profile (each profile's sizes of the first domain: the scale is per profile).
    """
    domains = doc.get("domains") or {}
    if name in domains:
        raise ConfigError(f"{params}: domains.{name}: already there; pick another name")
    if not domains:
        raise ConfigError(f"{params}: domains: empty; expected at least one domain to copy "
                          "sizes from")
    first = next(iter(domains))
    domains[name] = {"source": name, "seed": 0, "options": {name: {}}}
    doc["grid"]["domains"].append(name)
    doc["pretrain"]["weights"][name] = None
    for key, profile in (doc.get("profiles") or {}).items():
        sized = (profile.get("domains") or {}).get(first) or {}
        if "sizes" not in sized:
            raise ConfigError(f"{params}: profiles.{key}.domains.{first}.sizes: missing; "
                              "expected every profile to size every domain")
        profile["domains"][name] = {"sizes": copy.deepcopy(sized["sizes"])}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the domain's name (a module name and params key)")
    parser.add_argument("--modality", required=True, choices=sorted(SHAPES))
    parser.add_argument("--package", required=True, help="the folder of your package "
                        "(created if missing; outside this repository is best)")
    parser.add_argument("--params", default=str(PARAMS_FILE))
    args = parser.parse_args(argv)
    module = scaffold(args.name, args.modality, Path(args.package), Path(args.params))
    print(f"wrote {module} and its pyproject.toml; added {args.name} to {args.params}.\n"
          f"next: write {module.stem}'s build() (domains/README.md), then "
          f"`pip install --no-deps -e {args.package}` and `dvc repro`")


if __name__ == "__main__":
    run(main)
