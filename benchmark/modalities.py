"""One object per modality: what the harness does differently for images, sequences and
tables, in one place, found by name in the ``MODALITIES`` registry.

A modality of your own is a subclass registered through the entry-point group
``benchmark.modalities`` of your package (like a domain source: ``domains/README.md``). It
overrides what differs (the downstream network, augmentation, sample drawing, the Label Studio
view, the input checks) and names its ``kind``: the built-in modality whose per-modality
settings (``pretrain.model.<kind>``, the steps and members per modality), encoder family and
``denoiser`` it shares.

The objects import only the registry (so each stage's code digest stays its own) and no heavy
library until called: torch or matplotlib are imported by the method that needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.registry import PluginLoadError, Registry, UnknownNameError

if TYPE_CHECKING:
    import torch
    from torch import nn


KINDS = ("image", "sequence", "tabular")  # the settings, encoder families and denoisers


class Modality:
    """What differs between modalities, with the defaults of a flat feature vector."""

    name: str
    kind = "tabular"  # one of KINDS: whose settings, encoder family and denoiser it uses
    denoiser = "mlp"  # the generator's network (benchmark.upstream.generators.denoisers.DENOISERS)
    stat_axes: tuple[int, ...] = (0,)  # the generator's scaling: per feature
    static_channels = False  # whether constant input channels stay constant in samples
    ls_key = "features"  # the Label Studio task's data key

    def backbone(self, input_shape: tuple[int, ...], n_classes: int, width: int) -> nn.Module:
        """The downstream network of the fixed recipe (and of the judge)."""
        from torch import nn

        hidden = 4 * width
        return nn.Sequential(
            nn.Linear(int(np.prod(input_shape)), hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """Label-preserving noise for training the downstream network."""
        import torch

        return x + 0.05 * torch.randn_like(x)

    def patching(self, shape: tuple[int, ...], encoder: Any) -> tuple[int, int, str] | None:
        """(length, patch, params key) the encoder's patches and the generator's UNet levels
        must divide, or None where nothing is cut into patches."""
        return None

    def draw(self, ax: Any, item: np.ndarray) -> None:
        """One item in a matplotlib axis (the generator's sample sheet)."""
        ax.bar(np.arange(len(item)), item)

    def ls_object(self, name: str, n_channels: int) -> str:
        """The Label Studio object tag that shows an item."""
        return f'<Table name="{name}" value="$features"/>'

    def ls_payload(self, x: np.ndarray, png: Any) -> Any:
        """An item as the task's data shows it; ``png(x)`` stores an image and says where."""
        return {f"f{d}": v for d, v in enumerate(_round(x.ravel()))}


MODALITIES: Registry[type[Modality]] = Registry("modality",
                                                entry_point_group="benchmark.modalities")


@MODALITIES.register("image")
class ImageModality(Modality):
    kind = "image"
    denoiser = "unet2d"
    stat_axes = (0, 2, 3)  # per channel
    ls_key = "image"

    def backbone(self, input_shape: tuple[int, ...], n_classes: int, width: int) -> nn.Module:
        from torch import nn

        return _cnn(nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d,
                    input_shape[0], width, n_classes, (3, 3, 3))

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        flip_h = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
        flip_v = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
        x = torch.where(flip_h, x.flip(-1), x)
        x = torch.where(flip_v, x.flip(-2), x)
        return x + 0.02 * torch.randn_like(x)

    def patching(self, shape: tuple[int, ...], encoder: Any) -> tuple[int, int, str] | None:
        if shape[-2] != shape[-1]:
            raise ValueError(f"images are {shape[-2]}x{shape[-1]}; expected square images")
        return shape[-1], encoder.image.patch_size, "pretrain.model.image.patch_size"

    def draw(self, ax: Any, item: np.ndarray) -> None:
        img = np.transpose(item, (1, 2, 0))
        ax.imshow((img - img.min()) / max(float(np.ptp(img)), 1e-9))
        ax.axis("off")

    def ls_object(self, name: str, n_channels: int) -> str:
        return f'<Image name="{name}" value="$image" zoom="true"/>'

    def ls_payload(self, x: np.ndarray, png: Any) -> Any:
        return png(x)


@MODALITIES.register("sequence")
class SequenceModality(Modality):
    kind = "sequence"
    denoiser = "unet1d"
    stat_axes = (0, 2)  # per channel
    static_channels = True  # e.g. climate's location channels
    ls_key = "series"

    def backbone(self, input_shape: tuple[int, ...], n_classes: int, width: int) -> nn.Module:
        from torch import nn

        return _cnn(nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d,
                    input_shape[0], width, n_classes, (5, 5, 3))

    def patching(self, shape: tuple[int, ...], encoder: Any) -> tuple[int, int, str] | None:
        return shape[-1], encoder.sequence.patch_length, "pretrain.model.sequence.patch_length"

    def draw(self, ax: Any, item: np.ndarray) -> None:
        for channel in item:
            ax.plot(channel, lw=0.8)

    def ls_object(self, name: str, n_channels: int) -> str:
        channels = "".join(f'<Channel column="ch{c}" legend="channel {c}"/>'
                           for c in range(n_channels))
        return (f'<TimeSeries name="{name}" value="$series" valueType="json" '
                f'timeColumn="time">{channels}</TimeSeries>')

    def ls_payload(self, x: np.ndarray, png: Any) -> Any:  # C x T
        series = {f"ch{c}": _round(row) for c, row in enumerate(np.atleast_2d(x))}
        return {"time": list(range(x.shape[-1])), **series}


@MODALITIES.register("tabular")
class TabularModality(Modality):
    pass


def modality(name: str) -> Modality:
    """The object of a modality name (a clear error for an unknown one or a bad ``kind``)."""
    try:
        cls = MODALITIES.get(name)
    except (UnknownNameError, PluginLoadError) as err:
        raise ValueError(str(err)) from None
    if cls.kind not in KINDS:
        raise ValueError(f"modality {name!r} ({cls.__module__}.{cls.__name__}): kind "
                         f"{cls.kind!r}; expected one of {KINDS}, the settings it shares")
    return cls()


def code_module(name: str) -> str:
    """The module that registers modality ``name`` (a code digest follows it: a modality of
    your own lives outside the modules the stages import).
    """
    return MODALITIES.module(name) or __name__


def names() -> tuple[str, ...]:
    """Every modality: the built-in ones and those installed packages register."""
    return tuple(MODALITIES.names())


def _cnn(conv: type, norm: type, pool: type, head_pool: type, c: int, width: int,
         n_classes: int, kernels: tuple[int, int, int]) -> nn.Module:
    """Three conv blocks (two pooled), global pooling and a linear head."""
    from torch import nn

    def block(cin: int, cout: int, k: int) -> nn.Sequential:
        return nn.Sequential(conv(cin, cout, k, padding=k // 2), norm(cout), nn.ReLU())

    return nn.Sequential(
        block(c, width, kernels[0]), pool(2),
        block(width, 2 * width, kernels[1]), pool(2),
        block(2 * width, 2 * width, kernels[2]),
        head_pool(1), nn.Flatten(), nn.Linear(2 * width, n_classes))


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.4g}") for v in np.asarray(values, dtype=np.float64)]
