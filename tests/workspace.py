"""A throw-away git + DVC copy of the project, for tests that run the real pipeline."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from benchmark.io import link_tree

REPO = Path(__file__).resolve().parents[1]


def sh(cmd: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    """Run ``cmd`` offline in ``cwd`` (extra ``env`` on top); fail the test with its output."""
    full = {**os.environ, "DVC_NO_ANALYTICS": "1", "WANDB_MODE": "offline", **(env or {})}
    done = subprocess.run(cmd, cwd=cwd, env=full, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def ran(log: str) -> set[str]:
    """The stages a `dvc repro` log says it ran."""
    return set(re.findall(r"Running stage '([^']+)'", log))


def copy_project(dest: Path, profile: str = "smoke") -> Path:
    """Copy the project to ``dest``, select ``profile`` and commit: a fresh clone to repro in.

    Tracked and untracked files are copied, ignored ones (data, runs, the venv) are not, except
    the user's real data files in ``raw/`` (hard links): a real-data domain runs there too.
    ``dvc.lock`` is not copied either: it records the user's own last ``dvc repro`` (the README's
    first command), which a fresh clone does not have.
    """
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if rel != "dvc.lock" and (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    link_tree(REPO / "raw", dest / "raw")
    set_profile(dest / "params.yaml", profile)
    commit(dest, profile)
    return dest


def set_profile(path: Path, profile: str) -> None:
    """Select ``profile`` the way a user does: edit the ``profile:`` line, nothing else."""
    text, count = re.subn(r"^profile: *\S+", f"profile: {profile}", path.read_text(), count=1,
                          flags=re.MULTILINE)
    assert count == 1, f"{path}: no top-level `profile:` line"
    path.write_text(text)


def build_upstream(dest: Path, domain: str) -> Path:
    """A smoke copy whose grid is ``domain`` alone, its upstream stages (``pretrain``,
    ``annotator``, ``patterns``, ``generator``, ``draws``) built by ``dvc repro`` and committed.
    """
    import yaml

    copy_project(dest, "smoke")
    path = dest / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["grid"]["domains"] = [domain]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    commit(dest, f"grid of {domain} only")
    sh(["dvc", "repro", "generator", f"patterns@{domain}", f"draws@{domain}"], dest)
    return dest


def copy_workspace(src: Path, dest: Path) -> Path:
    """A copy of a built workspace (git, DVC cache and outputs) to change without touching it."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def absent_real_data(workspace: Path) -> dict[str, str]:
    """The grid's domains whose real-data source has no files in ``workspace`` (raw/README.md),
    each with the source's own message saying what is missing and how to obtain it.
    """
    from benchmark.config import load_params
    from benchmark.registry import DOMAINS
    from domains.realdata import SourceDataMissing

    tiny = {"seed": 24, "pool": 40, "val": 20, "test_id": 20, "test_shift": 20, "reference": 20}
    absent = {}
    with contextlib.chdir(workspace):  # sources name their files relative to the project root
        params = load_params()
        for name in params.grid.domains:
            spec = params.domains[name]
            try:
                DOMAINS.get(spec.source)(**spec.source_options).build(tiny, spec.seed)
            except SourceDataMissing as err:
                absent[name] = f"domain {name} (source {spec.source}): {err}"
    return absent


def commit(dest: Path, message: str) -> None:
    """Commit everything in ``dest`` (a new repository on the first call)."""
    if not (dest / ".git").is_dir():
        sh(["git", "init", "-q"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], dest)
