"""Human (or simulated human) feedback: requests and answers, the append-only ledger and the
answer store, the simulated annotator with its judge, and the bridge to Label Studio.
"""

from __future__ import annotations

from typing import Any

from benchmark.annotation.ledger import ACTIONS, Annotation, Ledger, LedgerError, Request

__all__ = ["ACTIONS", "Annotation", "Ledger", "LedgerError", "Request", "SimulatedAnnotator"]


def __getattr__(name: str) -> Any:
    """``SimulatedAnnotator`` on first use: its judge needs torch (a second of import), which
    the stages that only read requests and ledgers (prepare, patterns, report) never pay."""
    if name == "SimulatedAnnotator":
        from benchmark.annotation.annotator import SimulatedAnnotator

        return SimulatedAnnotator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
