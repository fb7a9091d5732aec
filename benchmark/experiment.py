"""Run one of the paper's experiments: ``experiments/<name>.yaml`` overlaid on ``params.yaml``
and a scale profile, in a DVC workspace of its own, its reports published beside the others.

    python -m benchmark.experiment list
    python -m benchmark.experiment run cost_analysis --profile quick

An overlay is a partial params tree (plus an optional ``profiles:`` section for values that
depend on the scale, e.g. more seeds in ``paper``). It is composed like a profile, over
``params.yaml`` and its profile (``benchmark.config.with_profile``), never written into the
tracked ``params.yaml``: the composed params go to the experiment's workspace, in the file's own
form (``file_form``: the scale keys under ``profiles.<profile>``, where ``dvc.yaml`` tracks them),
``.experiments/<name>-<profile>/``, a git + DVC copy of the project that shares the project's
DVC cache. There ``dvc repro`` runs the same pipeline, so everything DVC gives the main job holds
per experiment: rerunning the command after a change recomputes only what changed, a killed run
resumes without losing an annotation, and ``dvc metrics show`` / ``dvc plots show`` work inside
the workspace. A new workspace starts from the main workspace's upstream outputs (data, encoders,
generators, judges) and its ``dvc.lock``; DVC's hashes decide what is still valid. When the run
ends, its reports are copied to ``reports/experiments/<name>-<profile>/`` with the composed
params, so two experiments' results live side by side. W&B runs are grouped by experiment name.

An experiment that tunes on replicates of its own (``grid.tune`` with ``tuning.seeds``) runs
in two phases, each in its workspace: every setting on the tuning seeds
(``<name>-<profile>-tuning``, reports published beside the others), then the reported seeds
with the setting chosen per domain on their ``val`` (``tuning.chosen`` in the composed params).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from benchmark.config import (
    PARAMS_FILE,
    ConfigError,
    deep_merge,
    file_form,
    parse_params,
    read_yaml,
    with_profile,
)
from benchmark.io import atomic_write_text, link_tree, replace_dir
from benchmark.paths import REPORTS

EXPERIMENTS = Path("experiments")
WORKSPACES = Path(".experiments")  # git- and dvc-ignored
PUBLISHED = REPORTS / "experiments"
# the main workspace's upstream outputs a new experiment workspace starts from (DVC re-checks them)
UPSTREAM = ("data", "models", "embeddings", "generators", "plugins", "reports/prepare",
            "reports/patterns", "reports/generators", "reports/generator_samples",
            "reports/annotators")
NOT_SYNCED = {"params.yaml", "dvc.lock"}  # the workspace's own
DECISION = "replicates.yaml"  # the sequential design's extension, kept in the workspace
NAME = re.compile(r"[A-Za-z0-9_-]+")  # an experiment's name is part of paths: nothing else


def names(root: Path = Path(".")) -> list[str]:
    """The experiments the project defines (one overlay file each)."""
    return sorted(p.stem for p in (root / EXPERIMENTS).glob("*.yaml"))


def overlay_file(name: str, root: Path = Path(".")) -> Path:
    if not NAME.fullmatch(name):
        raise ConfigError(f"experiment name {name!r}: expected letters, digits, '_' and '-' "
                          f"only (one of {names(root)})")
    path = root / EXPERIMENTS / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: no such experiment; expected one of {names(root)}")
    return path


def compose(name: str, profile: str, root: Path = Path("."),
            domains: Sequence[str] | None = None, methods: Sequence[str] | None = None
            ) -> dict[str, Any]:
    """``params.yaml`` with ``profile``, then the experiment's overlay and its per-profile
    values, then (optionally) the grid narrowed to ``domains`` and ``methods``; validated
    before it is used.
    """
    path = overlay_file(name, root)
    overlay = read_yaml(path)
    by_profile = overlay.pop("profiles", None) or {}
    if not isinstance(by_profile, dict):
        raise ConfigError(f"{path}: profiles: got {type(by_profile).__name__}, expected a "
                          "mapping of profile name -> values")
    base = read_yaml(root / PARAMS_FILE)
    known = sorted(base.get("profiles", {}))
    for key in by_profile:
        if key not in known:
            raise ConfigError(f"{path}: profiles.{key}: unknown profile; expected one of {known}")
    merged = deep_merge(with_profile(base, profile), overlay)
    merged = deep_merge(merged, by_profile.get(profile) or {})
    merged["grid"] = {**merged["grid"], "experiment": name}
    for key, chosen in (("domains", domains), ("methods", methods)):
        if chosen:
            have = merged["grid"][key]
            unknown = sorted(set(chosen) - set(have))
            if unknown:
                raise ConfigError(f"--{key}: {unknown} not in the experiment's grid.{key} {have}")
            merged["grid"][key] = [v for v in have if v in chosen]
    if methods and merged.get("report", {}).get("cost_references"):
        merged["report"] = {**merged["report"], "cost_references": [
            m for m in merged["report"]["cost_references"] if m in methods]}
    check = tuning_phase(merged) if two_phases(merged) else merged
    parse_params(check, f"{path} over {root / PARAMS_FILE} (profile {profile})")
    return merged


def two_phases(params: Mapping[str, Any]) -> bool:
    """Whether the experiment tunes on replicates of their own (``tuning.seeds``) first."""
    return bool(params["grid"].get("tune") and (params.get("tuning") or {}).get("seeds"))


def tuning_phase(params: Mapping[str, Any]) -> dict[str, Any]:
    """The first phase's params: every setting of every tuned entry on ``tuning.seeds``, the
    best on ``val`` chosen there.
    """
    tuning = dict(params["tuning"])
    return {**params, "grid": {**params["grid"], "seeds": tuning.pop("seeds")},
            "tuning": tuning}


def reported_phase(params: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """The second phase's params: the reported seeds, each entry run with the setting chosen
    per domain in the first (``tuning.chosen``), nothing tuned on them.
    """
    return {**params, "grid": {**params["grid"], "tune": False},
            "tuning": {**params["tuning"], "chosen": dict(chosen)}}


def chosen_settings(table: Path, grids: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per domain and entry, the setting the first phase's report chose (its ``tuning.csv``)."""
    import pandas as pd

    from benchmark import tuning

    rows = pd.read_csv(table)
    out: dict[str, dict[str, Any]] = {}
    for row in rows[rows.chosen.astype(bool)].itertuples():
        out.setdefault(str(row.domain), {})[str(row.method)] = tuning.setting_of(
            str(row.variant), grids)
    return out


def workspace(name: str, profile: str, root: Path = Path(".")) -> Path:
    return root / WORKSPACES / f"{name}-{profile}"


def _project_files(root: Path) -> list[str]:
    done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                          cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigError(f"{root.resolve()}: not a git repository ({done.stderr.strip()}); "
                          "experiments run from a clone of the project")
    return [f for f in done.stdout.splitlines() if (root / f).is_file()]


def sync(root: Path, dest: Path) -> None:
    """Make ``dest`` a current copy of the project's files (code, configs, overlays), keeping
    its own params, lock and outputs. Files deleted from the project are deleted there too.
    """
    fresh = not (dest / ".dvc").is_dir()
    files = [f for f in _project_files(root) if f not in NOT_SYNCED]
    manifest = dest / ".experiment-files"
    before = set(manifest.read_text().split("\n")) - {""} if manifest.is_file() else set()
    for rel in sorted(before - set(files)):
        (dest / rel).unlink(missing_ok=True)
    for rel in files:
        src, out = root / rel, dest / rel
        stat = src.stat()
        if out.is_file() and out.stat().st_size == stat.st_size and (
                out.stat().st_mtime_ns == stat.st_mtime_ns):
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)
    atomic_write_text(manifest, "\n".join(files) + "\n")
    link_tree(root / "raw", dest / "raw")  # user-provided real data (git-ignored)
    runs = dest / "wandb"  # W&B runs of every experiment beside the main job's, one folder
    if not runs.exists() and not runs.is_symlink():
        (root / "wandb").mkdir(exist_ok=True)
        runs.symlink_to((root / "wandb").resolve(), target_is_directory=True)
    cache = (root / ".dvc" / "cache").resolve()
    atomic_write_text(dest / ".dvc" / "config.local", f"[cache]\n    dir = {cache}\n")
    if fresh:
        _seed_outputs(root, dest)
    if not (dest / ".git").is_dir():
        subprocess.run(["git", "init", "-q"], cwd=dest, check=True)


def _seed_outputs(root: Path, dest: Path) -> None:
    """Start from the main workspace's upstream outputs and lock: DVC skips the stages whose
    hashes still match, so an experiment does not retrain what the main job already built.
    """
    for rel in UPSTREAM:
        if (root / rel).is_dir() and not (dest / rel).exists():
            shutil.copytree(root / rel, dest / rel, symlinks=True)
    if (root / "dvc.lock").is_file():
        shutil.copy2(root / "dvc.lock", dest / "dvc.lock")


def publish(dest: Path, target: Path, params: Mapping[str, Any]) -> None:
    """Copy the workspace's reports (and the composed params) to ``target``, replacing an
    earlier copy only once the new one is complete.
    """
    def write(tmp: Path) -> None:
        shutil.copytree(dest / REPORTS, tmp, ignore=shutil.ignore_patterns("experiments", ".*"),
                        dirs_exist_ok=True)
        atomic_write_text(tmp / "params.yaml", yaml.safe_dump(dict(params), sort_keys=False))

    replace_dir(target, write)


def run(name: str, profile: str, root: Path = Path("."), targets: Sequence[str] = (),
        domains: Sequence[str] | None = None, methods: Sequence[str] | None = None) -> Path:
    """Compose, sync, ``dvc repro`` in the experiment's workspace, publish; the report folder."""
    params = compose(name, profile, root, domains, methods)
    with _only_run(root, name, profile):
        return _run(params, name, profile, root, targets)


@contextlib.contextmanager
def _only_run(root: Path, name: str, profile: str) -> Iterator[None]:
    """Hold the experiment's lock for the whole run: a second run of the same experiment and
    profile is refused before it writes anything (its workspaces are shared).
    """
    (root / WORKSPACES).mkdir(parents=True, exist_ok=True)
    lock = root / WORKSPACES / f"{name}-{profile}.lock"
    with lock.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise ConfigError(f"experiment {name} ({profile}) is already running (pid "
                              f"{fh.read().strip() or '?'}, lock {lock}); wait for it to end"
                              ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield


def _run(params: dict[str, Any], name: str, profile: str, root: Path,
         targets: Sequence[str]) -> Path:
    target = root / PUBLISHED / f"{name}-{profile}"
    if two_phases(params):  # tune on replicates of their own (a workspace of its own) first
        first, tuned = tuning_phase(params), workspace(name, f"{profile}-tuning", root)
        _repro(root, tuned, first, name, f"{profile}, tuning on seeds {first['grid']['seeds']}",
               targets)
        if targets:  # some stages only (say, the upstream models before a SLURM array)
            return target
        publish(tuned, target.with_name(f"{target.name}-tuning"), first)
        params = reported_phase(params, chosen_settings(tuned / REPORTS / "tuning.csv",
                                                        params["tuning"]["grids"]))
        parse_params(params, f"{tuned / REPORTS / 'tuning.csv'} over {PARAMS_FILE}")
    dest = workspace(name, profile, root)
    if params["report"].get("max_replicates") and not targets:
        params = _sequential(root, dest, params, name, profile)
    else:
        _repro(root, dest, params, name, profile, targets)
    if (dest / REPORTS / "summary.md").is_file():
        publish(dest, target, params)
    return target


def _sequential(root: Path, dest: Path, params: dict[str, Any], name: str,
                profile: str) -> dict[str, Any]:
    """The reported seeds, then per domain the replicates its paired CIs need
    (``extension``), run in the same workspace: only the new cells compute. The decision is
    kept beside the workspace's params (``DECISION``), so a rerun of the command resumes the
    extended grid instead of first shrinking it back. Returns the params that ran last.
    """
    import pandas as pd

    from benchmark.stages import digest

    key = digest([file_form(params)])
    decision = dest / DECISION
    try:  # a damaged decision is made again (it costs one repro of the reported seeds)
        saved = yaml.safe_load(decision.read_text()) if decision.is_file() else None
    except yaml.YAMLError:
        saved = None
    if not (isinstance(saved, dict) and saved.get("params") == key):
        _repro(root, dest, params, name, profile, ())
        extra = extension(pd.read_csv(dest / REPORTS / "paired.csv"), params)
        atomic_write_text(decision, yaml.safe_dump({"params": key, "extra_seeds": extra}))
    else:
        extra = saved["extra_seeds"]
    if not extra:
        return params
    params = {**params, "grid": {**params["grid"], "extra_seeds": extra}}
    more = ", ".join(f"{d} +{len(s)}" for d, s in extra.items())
    _repro(root, dest, params, name, f"{profile}, more replicates: {more}", ())
    return params


def extension(paired: Any, params: Mapping[str, Any]) -> dict[str, list[int]]:
    """Per domain, the seeds to add so that every undecided paired difference reaches
    ``report.target_halfwidth``: the most replicates any method and metric needs at the spread
    the reported seeds showed (``replicates_needed``), up to ``report.max_replicates`` in all.
    A difference is decided when its CI lies wholly outside +- the target (a method known to
    differ by more than the resolution sought, such as ``seed_only``): it sizes nothing. New
    seeds follow the largest reported one, skipping the tuning seeds (their draws chose the
    settings). Re-estimating the sample size from the variance alone, blind to the differences'
    signs, is the internal-pilot design (Wittes & Brittain 1990): the intervals keep their level.
    """
    report, grid = params["report"], params["grid"]
    target, cap = float(report["target_halfwidth"]), int(report["max_replicates"])
    seeds, taken = list(grid["seeds"]), set((params.get("tuning") or {}).get("seeds") or [])
    undecided = paired[(paired["diff"].abs() - paired["ci"] <= target)
                       & paired["replicates_needed"].notna()]
    extra: dict[str, list[int]] = {}
    for domain in grid["domains"]:
        rows = undecided[undecided["domain"] == domain]
        want = min(int(rows["replicates_needed"].max()), cap) if len(rows) else 0
        new, seed = [], max(seeds) + 1
        while len(seeds) + len(new) < want:
            if seed not in taken:
                new.append(seed)
            seed += 1
        if new:
            extra[domain] = new
    return extra


def _repro(root: Path, dest: Path, params: Mapping[str, Any], name: str, what: str,
           targets: Sequence[str]) -> None:
    """Sync the workspace ``dest``, write its params and run ``dvc repro`` there."""
    dest.mkdir(parents=True, exist_ok=True)
    sync(root, dest)
    atomic_write_text(dest / PARAMS_FILE,
                      f"# composed by benchmark.experiment: {name} + profile {what}; "
                      "edit experiments/ and params.yaml, not this file\n"
                      + yaml.safe_dump(file_form(params), sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    if params.get("tracking", {}).get("mode", "offline") == "offline":
        env["WANDB_MODE"] = "offline"
    done = subprocess.run(["dvc", "repro", *targets], cwd=dest, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: experiment {name} ({what}): `dvc repro` failed in {dest} "
                         "(its output is above); rerun the same command to resume")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the experiments the project defines")
    show = sub.add_parser("params", help="print an experiment's composed params")
    go = sub.add_parser("run", help="run an experiment (again: resume / update)")
    for p in (show, go):
        p.add_argument("name")
        p.add_argument("--profile", default="quick")
        p.add_argument("--domains", nargs="+", help="only these domains of the grid")
        p.add_argument("--methods", nargs="+", help="only these methods of the grid")
    go.add_argument("targets", nargs="*", help="DVC stages to reproduce (default: all)")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for name in names():
                print(name)
        elif args.command == "params":
            print(yaml.safe_dump(compose(args.name, args.profile, domains=args.domains,
                                         methods=args.methods), sort_keys=False), end="")
        else:
            target = run(args.name, args.profile, targets=args.targets, domains=args.domains,
                         methods=args.methods)
            print(f"{args.name} ({args.profile}): reports in {target}")
    except (ConfigError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
