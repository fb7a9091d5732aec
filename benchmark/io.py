"""Atomic file writes: every artifact is written to a temp file in the same folder and renamed,
so a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np


class DataFormatError(ValueError):
    """A data file or array that does not follow the harness's data model."""


def read_json(path: str | Path, rebuild: str = "") -> Any:
    """A JSON file the project wrote or reads; any failure names the file (and ``rebuild``,
    the command that writes it again) in one line.
    """
    path = Path(path)
    hint = f"; rebuild it with `{rebuild}`" if rebuild else ""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found{hint}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{path}: not valid JSON ({err}){hint}") from None
    except OSError as err:
        raise DataFormatError(f"{path}: cannot be read ({err.strerror}){hint}") from None


def read_npz(path: str | Path, keys: Sequence[str] | None = None,
             rebuild: str = "") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file (``keys`` only, each required), no pickles; any failure
    names the file (and ``rebuild``, the command that writes it again) in one line.
    """
    path = Path(path)
    hint = f"; rebuild it with `{rebuild}`" if rebuild else ""
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys or () if k not in npz.files]
            if missing:
                raise DataFormatError(f"{path}: array {missing[0]!r} missing (has "
                                      f"{sorted(npz.files)}){hint}")
            return {k: npz[k] for k in (keys if keys is not None else npz.files)}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found{hint}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, TypeError
            ) as err:  # TypeError: a plain .npy array, not an archive
        if isinstance(err, DataFormatError):
            raise
        raise DataFormatError(f"{path}: not a readable .npz archive ({err}){hint}") from None


def read_weights(path: str | Path, rebuild: str = "") -> dict[str, Any]:
    """A torch ``state_dict`` (tensors only: ``weights_only``); a damaged file names itself."""
    import torch

    path = Path(path)
    hint = f"; rebuild it with `{rebuild}`" if rebuild else ""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found{hint}") from None
    except Exception as err:  # torch raises many kinds (pickle, zip, runtime) for one cause
        raise DataFormatError(f"{path}: not readable torch weights ({type(err).__name__})"
                              f"{hint}") from None


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(fh)`` on a temp file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from other users
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def sweep_temp_files(folder: str | Path, name: str | None = None) -> int:
    """Remove temp files a killed writer left in ``folder`` (``.<name>.*.tmp``; only those of
    file ``name`` when given, in a folder other processes write to); returns how many. Safe
    because every real write renames its temp file before it returns.
    """
    folder = Path(folder)
    pattern = f".{name}.*.tmp" if name is not None else ".*.tmp"
    stray = list(folder.glob(pattern)) if folder.is_dir() else []
    for path in stray:
        path.unlink(missing_ok=True)
    return len(stray)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_to_builtin) + "\n")


def atomic_write_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez_compressed``'s format, byte-identical for identical arrays: numpy stamps each
    zip entry with the time of writing, so an unchanged split or dataset written again would
    look changed to DVC and to the train stage's stamps and rerun everything after it.
    """
    def write(fh: IO[bytes]) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, value in arrays.items():
                entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(entry, "w", force_zip64=True) as out:
                    np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)

    atomic_write(path, write)


def replace_dir(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(folder)`` on an empty temp folder beside ``path``, then swap it in for
    ``path``: a crash leaves the old folder (or none) and a hidden temp one, never a mix.
    """
    path = Path(path)
    tmp, old = path.with_name(f".{path.name}.tmp"), path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def _to_builtin(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def link_tree(src: str | Path, dest: str | Path) -> None:
    """Hard-link (or copy, across file systems) every file under ``src`` that ``dest`` lacks:
    user-provided real data shared with a copy of the project without duplicating it.
    """
    src, dest = Path(src), Path(dest)
    for path in sorted(src.rglob("*")) if src.is_dir() else []:
        out = dest / path.relative_to(src)
        if path.is_dir() or out.exists():
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, out)
        except OSError:
            shutil.copy2(path, out)
