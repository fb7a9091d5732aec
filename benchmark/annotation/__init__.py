"""Human (or simulated human) feedback: the append-only ledger and the simulated annotator."""

from benchmark.annotation.annotator import SimulatedAnnotator
from benchmark.annotation.ledger import Annotation, Ledger

__all__ = ["Annotation", "Ledger", "SimulatedAnnotator"]
