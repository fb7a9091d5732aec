"""Weights & Biases tracking, offline by default: one run per (domain, method, seed) and
configuration.

Tracking is best-effort on top of the local metrics files: a W&B failure is reported as a
warning and never loses or blocks a result. The run id joins the cell name and a hash of the
cell's resolved params, so a rerun with the same params replaces its own earlier offline run
(a killed or repeated run leaves one folder), while a changed configuration (another profile,
option or code) becomes a new run beside the earlier ones, which are kept for ``wandb sync`` and
comparison. Runs are grouped by experiment and profile (``main-quick``, ``cost_analysis-smoke``).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmark.paths import WANDB_DIR


def group_of(experiment: str, profile: str) -> str:
    """The W&B group of a run: its experiment (DVC's name for ``dvc exp run -n X``) and
    profile, so the UI keeps smoke, quick and paper runs of one experiment apart.
    """
    return f"{os.environ.get('DVC_EXP_NAME') or experiment}-{profile}"


class Tracker:
    """Context manager around one W&B run; ``logger`` plugs into Lightning's Trainer.

    Stages without a Trainer pass ``lightning=False`` and skip importing Lightning (seconds).
    """

    def __init__(self, project: str, mode: str, group: str, name: str, run_id: str,
                 config: Mapping[str, Any], job_type: str = "train",
                 entity: str | None = None, tags: Sequence[str] = (),
                 lightning: bool = True) -> None:
        self.project, self.mode, self.group, self.name = project, mode, group, name
        self.run_id, self.config, self.job_type = run_id, dict(config), job_type
        self.entity, self.tags, self.lightning = entity, list(tags), lightning
        self.logger: Any = None
        self.run: Any = None

    def __enter__(self) -> Tracker:
        if self.mode == "disabled":
            return self
        try:
            self._start()
        except Exception as err:  # tracking must never cost a result
            warnings.warn(f"W&B run {self.name} could not start ({err}); continuing without it",
                          stacklevel=2)
            self.logger = self.run = None
        return self

    def _start(self) -> None:
        if self.mode != "online":  # offline means no network from any part of wandb
            os.environ["WANDB_MODE"] = self.mode
        import wandb

        init = dict(
            project=self.project, entity=self.entity, name=self.name, id=self.run_id,
            group=self.group, job_type=self.job_type, tags=self.tags, config=self.config,
            mode=self.mode,
            settings=wandb.Settings(silent=True, x_disable_stats=True, console="off"),
        )
        if self.lightning:
            from lightning.pytorch.loggers import WandbLogger

            self.logger = WandbLogger(save_dir=str(WANDB_DIR), **init)
            self.run = self.logger.experiment
        else:
            self.run = wandb.init(dir=str(WANDB_DIR), **init)
        self.run.define_metric("round/index")
        self.run.define_metric("round/*", step_metric="round/index")

    def log_rounds(self, rounds: Sequence[Mapping[str, Any]]) -> None:
        """Per-round construction metrics against their own x-axis ``round/index``."""
        for entry in rounds:  # nested numbers too: human_eval/accepted, human_eval/clusters/3/n
            row = {f"round/{k}": v for k, v in flatten_numbers(
                {k: v for k, v in entry.items() if k != "round"}).items()}
            self._call(lambda r=row, e=entry: self.run.log({"round/index": e["round"], **r}))

    def log_summary(self, metrics: Mapping[str, float],
                    tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        """Final metrics into the run summary; each table (list of rows) as a W&B Table."""
        def write() -> None:
            import wandb

            run = self.run
            run.summary.update(dict(metrics))
            for key, rows in tables.items():
                columns = list(rows[0]) if rows else []
                run.log({key: wandb.Table(columns=columns,
                                          data=[[r[c] for c in columns] for r in rows])})
        self._call(write)

    def log_image(self, key: str, path: str | Path) -> None:
        """An image file (a chart the stage wrote) under ``key``."""
        def write() -> None:
            import wandb

            self.run.log({key: wandb.Image(str(path))})
        self._call(write)

    def _call(self, fn: Any) -> None:
        if self.run is None:
            return
        try:
            fn()
        except Exception as err:
            warnings.warn(f"W&B logging failed for {self.name} ({err})", stacklevel=3)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.run is not None:
            run_dir = Path(getattr(self.run, "dir", "") or ".").parent.name
            self._call(lambda: self.run.finish(exit_code=1 if exc else 0))
            if exc is None and self.mode == "offline":  # only a finished run replaces the old
                # offline folders are named by run id (``<cell>--<config digest>``), not by
                # the display name, which may carry the experiment (``main/<cell>``)
                _drop_repeated_runs(Path(WANDB_DIR) / "wandb", self.run_id, keep=run_dir)


def track_domain_report(tracking: Any, experiment: str, profile: str, domain: str, job: str,
                        config: Mapping[str, Any], scores: Mapping[str, Any],
                        image: str | Path | None = None,
                        tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None) -> None:
    """One W&B run ``<domain>-<job>`` for a per-domain stage (pretrain, annotator, patterns,
    generator): numeric scores (nested keys joined with ``/``) in the summary, optional tables
    and the stage's chart.
    """
    import hashlib
    import json

    name = f"{domain}-{job}"
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    group = group_of(experiment, profile)
    with Tracker(tracking.project, tracking.mode, group, f"{group}/{name}",
                 f"{name}--{digest[:8]}", config, job_type=job, entity=tracking.entity,
                 tags=[domain, job, profile], lightning=False) as tracker:
        tracker.log_summary(flatten_numbers(scores), tables or {})
        if image is not None:
            tracker.log_image(f"{job}/chart", image)


def flatten_numbers(tree: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested mapping, keyed ``a/b/c``."""
    flat: dict[str, float] = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten_numbers(value, path))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[path] = value
    return flat


def _drop_repeated_runs(folder: Path, run_id: str, keep: str) -> None:
    """Remove earlier offline folders of the same run (same cell and configuration: a killed
    or repeated run) once it finished; runs of other configurations stay.
    """
    for old in folder.glob(f"offline-run-*-{run_id}"):
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


# ------------------------------------------------------------------ reading offline runs back

# the .wandb file: a 7-byte file header, then LevelDB-log records in 32 KiB blocks, each
# record behind its own 7-byte header (checksum 4, length 2, kind 1)
_BLOCK, _FILE_HEADER, _RECORD_HEADER = 32768, 7, 7


def _records(path: Path) -> list[bytes]:
    """The serialized records of one ``run-<id>.wandb`` file (LevelDB log format: records
    of up to one 32 KiB block, a record longer than a block split into first/middle/last).
    """
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B run file (header {data[:4]!r})")
    out: list[bytes] = []
    pos, pending = _FILE_HEADER, b""
    while pos + _RECORD_HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _RECORD_HEADER:  # a block's tail too short for a record header is padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        start = pos + _RECORD_HEADER
        chunk, pos = data[start:start + length], start + length
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            out.append(pending + chunk)
    return out


def read_offline_run(folder: Path) -> dict[str, Any]:
    """One offline run as written: id, name, group, job type, tags, config, the final summary
    (every summary update applied in order) and the exit code (``None``: it never finished).
    """
    import json

    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = folder.glob("run-*.wandb")
    run: dict[str, Any] = {"folder": str(folder), "config": {}, "summary": {}, "exit": None}

    def apply(target: dict[str, Any], items: Any) -> None:
        for item in items:
            keys = list(item.nested_key) or [item.key]
            node = target
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = json.loads(item.value_json)

    for raw in _records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.update(id=r.run_id, name=r.display_name, group=r.run_group,
                       job_type=r.job_type, tags=list(r.tags), project=r.project)
            apply(run["config"], r.config.update)
        elif kind == "config":
            apply(run["config"], record.config.update)
        elif kind == "summary":
            apply(run["summary"], record.summary.update)
        elif kind == "exit":
            run["exit"] = record.exit.exit_code
    run["config"] = {k: v.get("value", v) if isinstance(v, dict) else v
                     for k, v in run["config"].items() if k != "_wandb"}
    return run


def offline_runs(*folders: Path) -> list[dict[str, Any]]:
    """Every offline run under the given ``wandb/`` folders (each folder once, however it
    is reached), oldest first."""
    seen: set[Path] = set()
    runs = []
    for folder in folders:
        for run_dir in sorted(Path(folder).glob("offline-run-*")):
            if run_dir.resolve() not in seen and any(run_dir.glob("run-*.wandb")):
                seen.add(run_dir.resolve())
                runs.append(read_offline_run(run_dir))
    return runs
