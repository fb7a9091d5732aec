"""One small command-line entry per DVC stage (``python -m benchmark.stages.<stage>``)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from benchmark.config import ConfigError
from benchmark.data import DataFormatError
from benchmark.registry import PluginLoadError, UnknownNameError

INPUT_ERRORS = (ConfigError, DataFormatError, FileNotFoundError, UnknownNameError,
                PluginLoadError)


def run(main: Callable[[], None]) -> None:
    """Run a stage; bad params or data end in one line naming the file and key, not a traceback."""
    try:
        main()
    except INPUT_ERRORS as err:
        sys.exit(f"error: {err}")


def domain_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``DOMAIN``, the coordinate of a per-domain stage."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("domain")
    return parser.parse_args(argv)


def cell_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``DOMAIN METHOD SEED``, the coordinates of one cell of the grid."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("domain")
    parser.add_argument("method")
    parser.add_argument("seed", type=int)
    return parser.parse_args(argv)


def digest(obj: Any) -> str:
    """A stable hash of a JSON-serialisable object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
