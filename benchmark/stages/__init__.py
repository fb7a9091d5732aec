"""One small command-line entry per DVC stage (``python -m benchmark.stages.<stage>``)."""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import traceback
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from benchmark.config import ConfigError, as_written, yaml_error
from benchmark.data import DataFormatError
from benchmark.io import atomic_write_text
from benchmark.registry import PluginLoadError, UnknownNameError

INPUT_ERRORS = (ConfigError, DataFormatError, FileNotFoundError, UnknownNameError,
                PluginLoadError)  # a damaged ledger is a DataFormatError too


def run(main: Callable[[], None]) -> None:
    """Run a stage; bad params or data end in one line naming the file and key, not a traceback."""
    try:
        main()
    except ConfigError as err:  # a scale key named where the file sets it (its profile)
        sys.exit(f"error: {as_written(str(err))}")
    except INPUT_ERRORS as err:
        sys.exit(f"error: {err}")
    except PermissionError as err:  # a read-only output folder, say: the path, in one line
        sys.exit(f"error: {err.filename}: permission denied; the stage must be able to write "
                 "its outputs there")
    except yaml.YAMLError as err:  # params.yaml that is not YAML (read by benchmark.config)
        sys.exit(f"error: {yaml_error(err)}")


def domain_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``DOMAIN``, the coordinate of a per-domain stage."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("domain")
    return parser.parse_args(argv)


def domains_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``[--domain D]``: a stage over every domain of the grid runs them all, or one."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--domain", help="only this domain")
    return parser.parse_args(argv)


def grid_domains(grid: Any, domain: str | None = None) -> list[str]:
    """The grid's domains, or only ``domain``, which must be one of them."""
    if domain is not None and domain not in grid.domains:
        raise ConfigError(f"--domain {domain}: not in the grid; expected one of "
                          f"params.yaml grid.domains {grid.domains}")
    return [d for d in grid.domains if domain is None or d == domain]


def domain_cells_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``DOMAIN [--method M] [--seed S]``: a per-domain stage runs every cell of the grid
    for its domain, or only the matching ones.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("domain")
    parser.add_argument("--method", help="only this method's cells")
    parser.add_argument("--seed", type=int, help="only this seed's cells")
    return parser.parse_args(argv)


def grid_cells(grid: Any, domain: str, method: str | None = None, seed: int | None = None,
               light: Collection[str] = ()) -> list[tuple[str, int]]:
    """The (method, seed) cells of the grid on ``domain`` (its ``seeds_of``), those of
    ``light`` methods last so that two workers finish together; ``method`` / ``seed`` filter
    and must be in the grid.
    """
    # a filter outside the grid would select no cell: a silent exit 0
    seeds = grid.seeds_of(domain)
    if method is not None and method not in grid.methods:
        raise ConfigError(f"--method {method}: not in the grid; expected one of "
                          f"params.yaml grid.methods {grid.methods}")
    if seed is not None and seed not in seeds:
        raise ConfigError(f"--seed {seed}: not in the grid; expected one of "
                          f"params.yaml grid.seeds (and grid.extra_seeds.{domain}) {seeds}")
    cells = [(m, s) for m in grid.methods for s in seeds
             if (method is None or m == method) and (seed is None or s == seed)]
    return sorted(cells, key=lambda c: c[0] in light)


T = TypeVar("T")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def per_seed(seeds: Sequence[int], shared: bool, load: Callable[[int], T]) -> dict[int, T]:
    """``load(seed)`` for every seed, or once for all when the seeds share their inputs
    (without ``replicates.redraw`` every seed uses the domain's own draw).
    """
    seeds = sorted(set(seeds))
    if shared and seeds:
        return dict.fromkeys(seeds, load(seeds[0]))
    return {seed: load(seed) for seed in seeds}


def run_cells(fn: Callable[..., T], cells: Sequence[tuple[Any, ...]], workers: int) -> list[T]:
    """``fn(*cell)`` for every cell (a (method, seed) pair, or a domain), each in a forked
    process of its own, ``workers`` at once (``GridParams.cells_at_once``). A fork
    inherits the parent's imports and loaded data, so a cell pays no start-up, and it leaves
    nothing behind: whatever a cell's code sets (a class attribute of a method, a module global)
    dies with its process, so no cell can carry anything into another. Every cell runs; then the
    first failure, in cell order, is raised with the cell's traceback. The parent must not have
    run torch yet: forking after OpenMP started is unsafe.
    """
    context = multiprocessing.get_context("fork")
    todo, running = list(enumerate(cells)), {}
    outcomes: dict[int, tuple[bool, Any, str]] = {}
    while todo or running:
        while todo and len(running) < max(workers, 1):
            index, cell = todo.pop(0)
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_cell_process, args=(fn, cell, send, os.getpid()))
            process.start()
            send.close()
            running[receive] = (index, process)
        for receive in multiprocessing.connection.wait(list(running)):
            index, process = running.pop(receive)
            try:
                outcomes[index] = receive.recv()
            except EOFError:  # killed, or died in C code, before it could answer
                process.join()
                outcomes[index] = (False, RuntimeError(
                    f"cell {cells[index]} died (exit code {process.exitcode})"), "")
            receive.close()
            process.join()
    for index in range(len(cells)):
        ok, value, trace = outcomes[index]
        if not ok:
            raise value from CellTraceback(trace) if trace else None
    return [outcomes[i][1] for i in range(len(cells))]


class CellTraceback(Exception):
    """The traceback of a cell that failed in its own process (the cause of the error raised)."""


def _cell_process(fn: Callable[..., Any], cell: tuple[Any, ...], send: Any, stage: int) -> None:
    """One cell in a forked process: its result, or its error with the traceback, go back."""
    _worker_start(stage)
    try:
        outcome: tuple[bool, Any, str] = (True, fn(*cell), "")
    except BaseException as err:  # noqa: BLE001 (everything goes back to the stage)
        outcome = (False, err, "".join(traceback.format_exception(err)))
    try:
        send.send(outcome)
    except Exception:  # noqa: BLE001 (an unpicklable result or error)
        send.send((False, RuntimeError(f"cell {cell}: {outcome[1]!r}"), outcome[2]))
    send.close()


def _worker_start(stage: int) -> None:
    """A forked worker dies with the stage process (Linux ``PR_SET_PDEATHSIG``): a stage killed
    mid-cell must not leave workers writing its outputs beside the rerun that resumes them.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: a killed stage's workers end with their cell
        pass
    if os.getppid() != stage:  # the stage died before the line above took effect
        os._exit(1)
    one_thread()


def one_thread() -> None:
    """One thread per cell for torch and the BLAS under numpy / scikit-learn: two workers with
    two threads each on two cores ran 5-7x slower than one thread each; and the same thread
    count whatever ``grid.workers`` keeps the numbers identical.
    """
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def digest(obj: Any) -> str:
    """A stable hash of a JSON-serialisable object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def up_to_date(stamp: Path, current: str, *outputs: Path) -> bool:
    """Whether a unit's stamp matches ``current`` (the digest of its inputs) and the digest of
    its ``outputs`` (files or folders) as written: then it need not run again. A damaged or
    edited output, or a stamp of before outputs were stamped, makes it run.
    """
    if not stamp.is_file() or not all(path.exists() for path in outputs):
        return False
    return stamp.read_text().split("\n") == [current, files_digest(outputs)]


def write_stamp(stamp: Path, current: str, *outputs: Path) -> None:
    """Record that a unit is done: its inputs' digest and its outputs' (written last)."""
    atomic_write_text(stamp, f"{current}\n{files_digest(outputs)}")


def files_digest(paths: Sequence[Path]) -> str:
    """A hash of the names and contents of the files under ``paths`` (folders or files).

    Stamps (``*.stamp``) are left out: they record digests of the folder they sit in, and
    what was measured about a model (its report's stamp) is not the model.
    """
    content = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in (p for p in files if p.is_file() and p.suffix != ".stamp"):
            content.update(str(path.relative_to(root.parent)).encode())
            content.update(path.read_bytes())
    return content.hexdigest()
