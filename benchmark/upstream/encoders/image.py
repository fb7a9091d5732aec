"""Images: a ViT masked autoencoder (``ViTMAEForPreTraining``); the embedding pools the
encoder's tokens over the whole, unmasked image.

The image the transformer sees can be a per-image normalised *view* (``view``), so that stain
colour and amount, which vary by site, do not dominate what a small model learns to reconstruct
at the expense of shape; the colour the view removes can be put back as a cheap per-image summary
appended to the embedding (``colour`` copies of it), because the site is half of every pattern.
The view, pooling and summary live in the model's config, so pretraining and every later
embedding agree.

Measured on the quick cells (probe on val / k-means rare lift / density-ratio lift / pattern
ceiling): the plain rgb view 0.40 / 1.03 / 1.06 / 0.48; standardised view + colour summary
0.46 / 1.00 / 1.06 / 0.49; the same averaged over rotations and flips 0.61 / 1.07 / 1.33 / 0.57
(raw pixels 0.52 / 1.08 / 1.25 / 0.70), all at 300 pretraining steps; at 600 (the quick
profile) 0.64 / 1.20 / 1.39 / 0.61, at 1200 0.67 / 1.05 / 1.52 / 0.63. Patch size 2, CLS pooling,
mask ratio 0.75, stain jitter and per-patch normalised targets each scored at or below the plain
view.

What the clusters then followed was the nuisance, not the pattern: their adjusted mutual
information with a neighbouring nucleus cut by the border was 0.11, with the class 0.04, with
the site 0.05. Pooling only the inner patch tokens (``centre``) and weighting the colour summary
(600 steps; k-means lift over 5 clustering seeds, AMI with class / site / neighbour):

=========================  =====  ===========  ==================
pooling, colour copies     probe  lift         AMI cls/site/nbr
=========================  =====  ===========  ==================
mean, 1                    0.64   0.91 - 1.22  0.04 / 0.05 / 0.11
mean, 8                    0.64   1.27 - 1.32  0.03 / 0.37 / 0.10
centre, 1                  0.69   1.29 - 1.38  0.15 / 0.11 / 0.07
centre, 3                  0.69   1.33 - 1.65
**centre, 4**              0.68   1.54 - 1.66  0.13 / 0.32 / 0.07
centre, 8                  0.69   1.44 - 1.59  0.12 / 0.35 / 0.07
=========================  =====  ===========  ==================

A contrastive (SimCLR) objective on the same ViT, with rotations, shifts, stain jitter and noise
as its views, raised the probe to 0.69 and the pattern ceiling to 0.75 but kept the neighbour
(AMI 0.20; lift 0.90 - 1.11 with one colour copy, 1.32 - 1.50 with four), so it stayed out. A
richer 18-number colour summary (the darkest and lightest eighth of the pixels beside the mean)
in place of copies reached 1.34 - 1.56.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from transformers import ViTMAEConfig, ViTMAEForPreTraining, ViTMAEModel

from benchmark.config import EncoderParams
from benchmark.upstream.encoders.base import EncoderFamily

_EPS = 1e-3  # floor of intensities before the log (optical density) and of a view's std


def view(x: torch.Tensor, kind: str) -> torch.Tensor:
    """The input the transformer sees: ``rgb`` as is; ``standardised``: each channel of each
    image to mean 0, std 1; ``od``: Beer-Lambert optical density ``-log(I)``, whose channels are
    linear in the stain amounts, standardised per image and channel.
    """
    if kind == "rgb":
        return x
    if kind == "od":
        x = -torch.log(x.clamp(_EPS, 1.0))
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True).clamp_min(_EPS)
    return (x - mean) / std


def colour_summary(x: torch.Tensor) -> torch.Tensor:
    """Per image, the mean optical density of each channel and its chromaticity (each channel's
    share of the total): stain colour and amount, i.e. what tells the sites apart.
    """
    od = -torch.log(x.clamp(_EPS, 1.0)).mean(dim=(2, 3))
    return torch.cat([od, od / od.sum(dim=1, keepdim=True).clamp_min(_EPS)], dim=1)


def stain_jitter(x: torch.Tensor, strength: float) -> torch.Tensor:
    """A random stain per image: its optical density mixed by ``I + strength * N(0, 1)`` across
    channels and scaled by ``exp(strength * N(0, 1))``; pretraining on it teaches the encoder
    that colour is not shape. The global torch generator draws it (seeded by the trainer).
    """
    if strength <= 0:
        return x
    batch, channels = x.shape[:2]
    od = -torch.log(x.clamp(_EPS, 1.0))
    mix = torch.eye(channels) + strength * torch.randn(batch, channels, channels)
    scale = torch.exp(strength * torch.randn(batch, 1, 1, 1))
    od = torch.einsum("bchw,bcd->bdhw", od, mix).clamp_min(0.0) * scale
    return torch.exp(-od)


class ImageMAE(EncoderFamily):
    """ViT-MAE. Pixel targets are normalised per patch (``norm_pix_loss``) only on request:
    with the ``rgb`` view a patch's mean colour carries the staining site, one of the patterns
    to discover. Settings the ``transformers`` config lacks (view, pooling, colour summary,
    stain jitter, dihedral pooling) are stored in it as extra attributes; a config without them
    (an older checkpoint) reads as the plain ``rgb`` view with mean pooling.
    """

    pretraining_class = ViTMAEForPreTraining
    encoder_class = ViTMAEModel
    inference: ClassVar[dict[str, float]] = {"mask_ratio": 0.0}

    def config(self, input_shape: tuple[int, ...], params: EncoderParams) -> ViTMAEConfig:
        channels, height, width = input_shape
        image = params.image
        if height != width or height % image.patch_size:
            raise ValueError(f"ViT-MAE needs square images divisible by patch_size "
                             f"{image.patch_size}, got {height}x{width}")
        return ViTMAEConfig(
            image_size=height, patch_size=image.patch_size, num_channels=channels,
            hidden_size=params.width, num_hidden_layers=params.depth,
            num_attention_heads=params.heads, intermediate_size=2 * params.width,
            decoder_hidden_size=params.width, decoder_num_hidden_layers=1,
            decoder_num_attention_heads=params.heads, decoder_intermediate_size=2 * params.width,
            mask_ratio=image.mask_ratio, norm_pix_loss=image.norm_pix,
            input_view=image.view, pooling=image.pooling, colour_summary=image.colour,
            stain_jitter=image.stain_jitter, dihedral_pooling=image.dihedral,
        )

    def input_shape(self, config: ViTMAEConfig) -> tuple[int, ...]:
        return (config.num_channels, config.image_size, config.image_size)

    def loss(self, model: ViTMAEForPreTraining, x: torch.Tensor) -> torch.Tensor:
        x = stain_jitter(x, getattr(model.config, "stain_jitter", 0.0))
        return model(pixel_values=view(x, getattr(model.config, "input_view", "rgb"))).loss

    def pool(self, encoder: ViTMAEModel, x: torch.Tensor) -> torch.Tensor:
        if not getattr(encoder.config, "dihedral_pooling", False):
            return self._pool_once(encoder, x)
        # a cell has no preferred orientation, but a ViT's patch tokens do: averaging over the
        # 8 rotations and flips keeps the shape and drops the angle it happened to lie at
        views = [torch.rot90(x, turns, dims=(2, 3)) for turns in range(4)]
        views += [v.flip(3) for v in views]
        return torch.stack([self._pool_once(encoder, v) for v in views]).mean(dim=0)

    def _pool_once(self, encoder: ViTMAEModel, x: torch.Tensor) -> torch.Tensor:
        # ViT-MAE shuffles patches by random noise even with nothing masked; increasing noise
        # keeps them in order, so the same image always gives the same embedding, bit for bit
        config = encoder.config
        patches = (config.image_size // config.patch_size) ** 2
        noise = torch.arange(patches, dtype=x.dtype).expand(len(x), patches)
        hidden = encoder(pixel_values=view(x, getattr(config, "input_view", "rgb")),
                         noise=noise).last_hidden_state
        tokens = _pool_tokens(hidden, getattr(config, "pooling", "mean"))
        # the colour summary is a handful of numbers beside ``width`` shape features, and every
        # reader of an embedding (clusters, probes, density ratios) standardises features one by
        # one: copies are the weight that survives that, so the site keeps its say in clusters
        copies = int(getattr(config, "colour_summary", 0))
        return torch.cat([*tokens, *[colour_summary(x)] * copies], dim=1)


def _pool_tokens(hidden: torch.Tensor, pooling: str) -> list[torch.Tensor]:
    """The pooled token vectors; ``centre`` averages the patch tokens off the border ring of
    the patch grid (all of them when the grid is too small to have an inside)."""
    patches = hidden[:, 1:]
    if pooling == "centre":
        side = round(patches.shape[1] ** 0.5)
        if side > 2:
            grid = patches.reshape(len(hidden), side, side, -1)[:, 1:-1, 1:-1]
            patches = grid.reshape(len(hidden), -1, hidden.shape[-1])
        return [patches.mean(dim=1)]
    return {"mean": [patches.mean(dim=1)], "cls": [hidden[:, 0]],
            "both": [hidden[:, 0], patches.mean(dim=1)]}[pooling]
