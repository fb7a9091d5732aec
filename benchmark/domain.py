"""The domain plugin contract and its registry.

A registered *domain source* builds a :class:`~benchmark.data.DomainData` deterministically from
a seed and the requested split sizes. ``params.yaml`` maps each benchmark domain (``biomedical``,
``climate``, ``robotics``, ...) to one registered source, so switching a domain from its
simulator to real data is a params change.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from benchmark import modalities
from benchmark.data import DomainData
from benchmark.registry import DOMAINS

__all__ = ["DOMAINS", "Domain", "OptionError"]


class OptionError(ValueError):
    """A source option out of range (``build`` found it): ``prepare`` reports it as one line
    naming ``domains.<name>.options.<source>.<option>`` in params.yaml, not a traceback.
    """

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"option {option}: {problem}")
        self.option, self.problem = option, problem


class Domain(ABC):
    """A source of domain data. ``__init__`` only stores its options (scikit-learn style); the
    options are the keyword arguments of ``__init__`` and are validated against its signature."""

    modality: ClassVar[str]
    # a simulator draws fresh, independent items for every seed: a redraw of its data
    # (``replicates.redraw``) shares no item with the draw the upstream models learnt on
    simulated: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if inspect.isabstract(cls):
            return
        if getattr(cls, "modality", None) not in modalities.names():
            raise TypeError(f"domain {cls.__name__} must set modality to one of "
                            f"{modalities.names()}")

    @abstractmethod
    def build(self, sizes: Mapping[str, int], seed: int) -> DomainData:
        """Return all six splits; ``sizes`` maps split name to the number of items wanted."""
