"""Sequences: PatchTST pretrained by masked-patch reconstruction (``PatchTSTForPretraining``);
the embedding concatenates each channel's mean patch representation.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from transformers import PatchTSTConfig, PatchTSTForPretraining, PatchTSTModel

from benchmark.config import EncoderParams
from benchmark.upstream.encoders.base import EncoderFamily


class SequenceMAE(EncoderFamily):
    """PatchTST on ``(channels, time)`` items. Instance scaling is off (``scaling=None``): the
    domains already scale by a fixed climatology, and per-item scaling would erase the amplitude
    that tells regions and extremes apart.
    """

    pretraining_class = PatchTSTForPretraining
    encoder_class = PatchTSTModel
    inference: ClassVar[dict[str, bool]] = {"do_mask_input": False}

    def config(self, input_shape: tuple[int, ...], params: EncoderParams) -> PatchTSTConfig:
        channels, length = input_shape
        patch = params.sequence.patch_length
        return PatchTSTConfig(
            num_input_channels=channels, context_length=length, patch_length=patch,
            patch_stride=patch, d_model=params.width, num_hidden_layers=params.depth,
            num_attention_heads=params.heads, ffn_dim=2 * params.width, scaling=None,
            mask_type="random", random_mask_ratio=params.sequence.mask_ratio,
            do_mask_input=True,
        )

    def input_shape(self, config: PatchTSTConfig) -> tuple[int, ...]:
        return (config.num_input_channels, config.context_length)

    def loss(self, model: PatchTSTForPretraining, x: torch.Tensor) -> torch.Tensor:
        return model(past_values=x.transpose(1, 2)).loss

    def pool(self, encoder: PatchTSTModel, x: torch.Tensor) -> torch.Tensor:
        hidden = encoder(past_values=x.transpose(1, 2)).last_hidden_state  # (B, C, P, D)
        return hidden.mean(dim=2).flatten(start_dim=1)
