"""Images: a ViT masked autoencoder (``ViTMAEForPreTraining``); the embedding is the mean of the
encoder's patch tokens over the whole, unmasked image.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from transformers import ViTMAEConfig, ViTMAEForPreTraining, ViTMAEModel

from benchmark.config import EncoderParams
from benchmark.encoders.base import EncoderFamily


class ImageMAE(EncoderFamily):
    """ViT-MAE. Pixel targets are not normalised per patch (``norm_pix_loss``) because a patch's
    mean colour carries the staining site, one of the patterns to discover.
    """

    pretraining_class = ViTMAEForPreTraining
    encoder_class = ViTMAEModel
    inference: ClassVar[dict[str, float]] = {"mask_ratio": 0.0}

    def config(self, input_shape: tuple[int, ...], params: EncoderParams) -> ViTMAEConfig:
        channels, height, width = input_shape
        if height != width or height % params.image.patch_size:
            raise ValueError(f"ViT-MAE needs square images divisible by patch_size "
                             f"{params.image.patch_size}, got {height}x{width}")
        return ViTMAEConfig(
            image_size=height, patch_size=params.image.patch_size, num_channels=channels,
            hidden_size=params.width, num_hidden_layers=params.depth,
            num_attention_heads=params.heads, intermediate_size=2 * params.width,
            decoder_hidden_size=params.width, decoder_num_hidden_layers=1,
            decoder_num_attention_heads=params.heads, decoder_intermediate_size=2 * params.width,
            mask_ratio=params.image.mask_ratio, norm_pix_loss=False,
        )

    def input_shape(self, config: ViTMAEConfig) -> tuple[int, ...]:
        return (config.num_channels, config.image_size, config.image_size)

    def loss(self, model: ViTMAEForPreTraining, x: torch.Tensor) -> torch.Tensor:
        return model(pixel_values=x).loss

    def pool(self, encoder: ViTMAEModel, x: torch.Tensor) -> torch.Tensor:
        # ViT-MAE shuffles patches by random noise even with nothing masked; increasing noise
        # keeps them in order, so the same image always gives the same embedding, bit for bit
        patches = (encoder.config.image_size // encoder.config.patch_size) ** 2
        noise = torch.arange(patches, dtype=x.dtype).expand(len(x), patches)
        return encoder(pixel_values=x, noise=noise).last_hidden_state[:, 1:].mean(dim=1)
