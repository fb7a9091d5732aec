"""A throw-away git + DVC copy of the project, for tests that run the real pipeline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

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
    """Copy the project to ``dest``, apply ``profile`` and commit: a fresh clone to repro in.

    Tracked and untracked files are copied, ignored ones (data, runs, the venv) are not.
    """
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    sh(["python", "-m", "benchmark.profile", profile], dest)
    commit(dest, profile)
    return dest


def commit(dest: Path, message: str) -> None:
    """Commit everything in ``dest`` (a new repository on the first call)."""
    if not (dest / ".git").is_dir():
        sh(["git", "init", "-q"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], dest)
