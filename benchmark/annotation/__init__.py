"""Human (or simulated human) feedback: requests and answers, the append-only ledger, the
simulated annotator with its judge, and the acquisition functions that pick what people see.
"""

from benchmark.annotation.annotator import SimulatedAnnotator
from benchmark.annotation.ledger import ACTIONS, Annotation, Ledger, LedgerError, Request

__all__ = ["ACTIONS", "Annotation", "Ledger", "LedgerError", "Request", "SimulatedAnnotator"]
