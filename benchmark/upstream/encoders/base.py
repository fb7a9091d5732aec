"""The contract one modality's encoder family fulfils, so pretraining, saving, loading and
embedding are written once for every modality.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from transformers import PreTrainedConfig, PreTrainedModel

from benchmark.config import EncoderParams


class EncoderFamily(ABC):
    """A ``transformers`` encoder and its self-supervised pretraining model for one modality.

    ``pretraining_class`` holds ``encoder_class`` as its base model, so a folder written by
    either one's ``save_pretrained`` loads as the encoder; ``inference`` overrides the config
    when embedding (no masking).
    """

    pretraining_class: ClassVar[type[PreTrainedModel]]
    encoder_class: ClassVar[type[PreTrainedModel]]
    inference: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def config(self, input_shape: tuple[int, ...], params: EncoderParams) -> PreTrainedConfig:
        """A config sized by ``params`` for inputs of shape ``input_shape`` (without batch)."""

    @abstractmethod
    def input_shape(self, config: PreTrainedConfig) -> tuple[int, ...]:
        """The input shape (without batch) a config accepts."""

    @abstractmethod
    def loss(self, model: PreTrainedModel, x: torch.Tensor) -> torch.Tensor:
        """The self-supervised loss of the pretraining model on a batch of inputs."""

    @abstractmethod
    def pool(self, encoder: PreTrainedModel, x: torch.Tensor) -> torch.Tensor:
        """One embedding vector per input, shape ``(batch, dim)``."""
