"""Time the pipeline: `dvc repro` of a profile in a fresh clone, per stage, then a no-op repro.

    python scripts/benchmark_pipeline.py [--profile quick] [--keep]

Prints one line per stage (wall seconds, including process start-up and imports), per stage
kind its wall and compute seconds and the rest (start-up, imports, tracking, plots, writes;
negative where cells ran two at once), the total,
the time of an unchanged `dvc repro`, and the harness efficiency: the compute seconds the stages
report themselves (`compute/*` keys: fitting, embedding, sampling, clustering, scoring; never
imports, start-up, tracking or I/O) over the wall time of the whole `dvc repro`. Stage times come
from the moments DVC announces each stage, so they are what a user waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "DVC_NO_ANALYTICS": "1", "WANDB_MODE": "offline"}


def timed_repro(cwd: Path) -> tuple[list[tuple[str, float]], float]:
    """Run `dvc repro`, returning (stage, seconds) in order and the total wall time."""
    start = last = time.perf_counter()
    stages: list[tuple[str, float]] = []
    current = None
    proc = subprocess.Popen(["dvc", "repro"], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.match(r"Running stage '([^']+)'", line)
        if match:
            now = time.perf_counter()
            if current:
                stages.append((current, now - last))
            current, last = match.group(1), now
    if proc.wait() != 0:
        sys.exit(f"dvc repro failed in {cwd}")
    end = time.perf_counter()
    if current:
        stages.append((current, end - last))
    return stages, end - start


def compute_seconds(work: Path) -> dict[str, float]:
    """The ``compute/*`` seconds every stage wrote, summed per stage kind."""
    found: dict[str, float] = {}

    def add(kind: str, values: dict) -> None:
        total = sum(v for k, v in values.items() if k.startswith("compute/"))
        found[kind] = found.get(kind, 0.0) + total

    for kind, pattern in (("prepare", "reports/prepare/*.json"),
                          ("pretrain", "models/*/pretrain.json"),
                          ("patterns", "reports/patterns/*.json"),
                          ("generator", "reports/generators/*.json"),
                          ("annotator", "reports/annotators/*.json"),
                          ("construct", "runs/*/*/seed*/timing.json")):
        for path in work.glob(pattern):
            add(kind, json.loads(path.read_text()))
    for path in work.glob("results/*/*/seed*/metrics.json"):
        metrics = json.loads(path.read_text())
        add("train", {k: v for k, v in metrics.items()
                      if k in ("compute/train_s", "compute/evaluate_s")})
    return found


def fresh_clone() -> Path:
    """A clone of the repository's committed state in a new temporary folder."""
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    subprocess.run(["git", "clone", "-q", str(REPO), str(work)], check=True)
    return work


def finish(work: Path, keep: bool) -> None:
    """Keep the clone (saying where) or remove it."""
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args()
    work = fresh_clone()
    params = work / "params.yaml"  # the clone's own file: select the profile on its line
    params.write_text(re.sub(r"^profile: *\S+", f"profile: {args.profile}", params.read_text(),
                             count=1, flags=re.MULTILINE))
    stages, total = timed_repro(work)
    kinds: dict[str, float] = {}
    for name, seconds in stages:
        print(f"{name:45s} {seconds:7.1f} s")
        kinds[name.split("@")[0]] = kinds.get(name.split("@")[0], 0.0) + seconds
    compute = compute_seconds(work)
    print("-" * 75)
    print(f"{'per stage kind':35s} {'wall':>9s} {'compute':>9s} {'rest':>9s}")
    for kind, seconds in kinds.items():
        done = compute.get(kind, 0.0)
        print(f"{'all ' + kind:35s} {seconds:7.1f} s {done:7.1f} s {seconds - done:7.1f} s")
    print("-" * 75)
    print(f"{'total dvc repro (' + args.profile + ')':35s} {total:7.1f} s "
          f"{sum(compute.values()):7.1f} s {total - sum(compute.values()):7.1f} s")
    print(f"{'harness efficiency (compute / wall)':45s} {sum(compute.values()) / total:7.2f}")
    noop_stages, noop = timed_repro(work)
    print(f"{'unchanged dvc repro':45s} {noop:7.1f} s  ({len(noop_stages)} stages ran)")
    finish(work, args.keep)


if __name__ == "__main__":
    main()
