"""One denoiser per modality behind a single call ``predict(x, t, label, cluster)``.

Null tokens: ``label == n_classes`` and ``cluster == k`` mean "unconditioned". Every denoiser
conditions on one code per label plus one per cluster (a factorised condition: learnt embeddings
summed for images and tables, one-hot channels for sequences, which the first convolution maps
to the same sum): a (label, cluster) pair that is rare in the seed set still gets both halves of
its code, which one embedding per pair would learn from only the items with that exact pair.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import ModelMixin, UNet1DModel, UNet2DModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import get_timestep_embedding
from torch import nn

from benchmark import modalities


class MLPDenoiser(ModelMixin, ConfigMixin):
    """Tabular noise predictor: x, a sinusoidal time code and two learnt condition embeddings
    (label, cluster, each with a null row) summed into one hidden vector; ModelMixin gives it
    ``save_pretrained`` / ``from_pretrained`` like the UNets.
    """

    @register_to_config
    def __init__(self, dim: int, n_classes: int, k: int, width: int = 128, depth: int = 3):
        super().__init__()
        self.inp = nn.Linear(dim, width)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.label = nn.Embedding(n_classes + 1, width)
        self.cluster = nn.Embedding(k + 1, width)
        self.body = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.SiLU())
            for _ in range(depth))
        self.out = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor,
                cluster: torch.Tensor) -> torch.Tensor:
        code = get_timestep_embedding(t, self.config.width, flip_sin_to_cos=True)
        h = self.inp(x) + self.time(code) + self.label(label) + self.cluster(cluster)
        for block in self.body:
            h = h + block(h)  # residual: a deep-enough MLP that still trains in a few hundred steps
        return self.out(h)


class ConditionalUNet2D(ModelMixin, ConfigMixin):
    """Images: ``UNet2DModel(class_embed_type="identity")`` whose class input is the sum of a
    label and a cluster embedding (each with a null row), added to the time embedding of every
    ResNet block.
    """

    @register_to_config
    def __init__(self, shape: tuple[int, ...], n_classes: int, k: int,
                 channels: tuple[int, ...] = (16, 32, 32)):
        super().__init__()
        blocks = len(channels)
        self.unet = UNet2DModel(
            sample_size=shape[1], in_channels=shape[0], out_channels=shape[0],
            block_out_channels=tuple(channels), layers_per_block=1, norm_num_groups=8,
            down_block_types=("DownBlock2D",) * blocks, up_block_types=("UpBlock2D",) * blocks,
            class_embed_type="identity")
        dim = channels[0] * 4  # UNet2DModel's time_embed_dim
        self.label = nn.Embedding(n_classes + 1, dim)
        self.cluster = nn.Embedding(k + 1, dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor,
                cluster: torch.Tensor) -> torch.Tensor:
        return self.unet(x, t, class_labels=self.label(label) + self.cluster(cluster)).sample


def _unet2d(shape: tuple[int, ...], n_classes: int, k: int, channels: list[int],
            width: int) -> nn.Module:
    return ConditionalUNet2D(tuple(shape), n_classes, k, tuple(channels))


def _unet1d(shape: tuple[int, ...], n_classes: int, k: int, channels: list[int],
            width: int) -> nn.Module:
    # UNet1DModel has no class input: the two conditions enter as constant one-hot channels.
    # Its residual-temporal blocks (the Janner et al. planner layout) feed the time embedding
    # to every block; DownBlock1D would ignore it.
    blocks = len(channels)
    return UNet1DModel(
        sample_size=shape[1], in_channels=shape[0] + n_classes + 1 + k + 1,
        out_channels=shape[0], extra_in_channels=0, time_embedding_type="positional",
        flip_sin_to_cos=True, freq_shift=1, use_timestep_embedding=True,
        block_out_channels=tuple(channels), down_block_types=("DownResnetBlock1D",) * blocks,
        up_block_types=("UpResnetBlock1D",) * (blocks - 1),
        mid_block_type="MidResTemporalBlock1D", out_block_type="OutConv1DBlock",
        act_fn="mish", norm_num_groups=8, layers_per_block=1, downsample_each_block=False)


def _mlp(shape: tuple[int, ...], n_classes: int, k: int, channels: list[int],
         width: int) -> nn.Module:
    return MLPDenoiser(dim=shape[0], n_classes=n_classes, k=k, width=width)


# a modality's ``denoiser`` names one: (its class, for from_pretrained; a builder from the
# sizes in params.generator: UNet channels per level, MLP width)
DENOISERS: dict[str, tuple[type[ModelMixin], Callable[..., nn.Module]]] = {
    "unet2d": (ConditionalUNet2D, _unet2d), "unet1d": (UNet1DModel, _unet1d),
    "mlp": (MLPDenoiser, _mlp)}


def _denoiser(modality: str) -> tuple[type[ModelMixin], Callable[..., nn.Module]]:
    kind = modalities.modality(modality).denoiser
    if kind not in DENOISERS:
        raise ValueError(f"modality {modality!r}: denoiser {kind!r}; expected one of "
                         f"{sorted(DENOISERS)}")
    return DENOISERS[kind]


def build(modality: str, shape: tuple[int, ...], n_classes: int, k: int,
          channels: list[int], width: int) -> nn.Module:
    """A fresh denoiser for ``modality`` (sizes from ``params.generator.model``)."""
    return _denoiser(modality)[1](tuple(shape), n_classes, k, channels, width)


def load(modality: str, folder: str) -> nn.Module:
    return _denoiser(modality)[0].from_pretrained(folder, low_cpu_mem_usage=False)


def predict(model: nn.Module, x: torch.Tensor, t: torch.Tensor, label: torch.Tensor,
            cluster: torch.Tensor, n_classes: int, k: int) -> torch.Tensor:
    """The predicted noise for a batch, whatever the modality; ``t`` (a sampler's step, on the
    host) moves to the batch's device."""
    t = (t.expand(len(x)) if t.dim() == 0 else t).to(x.device)
    if isinstance(model, UNet1DModel):
        hot = torch.cat([nn.functional.one_hot(label, n_classes + 1),
                         nn.functional.one_hot(cluster, k + 1)], dim=1).to(x.dtype)
        return model(torch.cat([x, hot[:, :, None].expand(-1, -1, x.shape[-1])], 1), t).sample
    return model(x, t, label, cluster)
