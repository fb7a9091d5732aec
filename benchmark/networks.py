"""The downstream networks, one per modality, free of Lightning so that loading a trained one
(the annotator's judge inside ``construct``) costs only ``import torch``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def build_backbone(modality: str, input_shape: tuple[int, ...], n_classes: int,
                   width: int) -> nn.Module:
    """A small CNN (image), 1-D CNN (sequence) or MLP (tabular)."""
    c = input_shape[0]
    if modality == "image":
        return nn.Sequential(
            _conv(nn.Conv2d, nn.BatchNorm2d, c, width, 3), nn.MaxPool2d(2),
            _conv(nn.Conv2d, nn.BatchNorm2d, width, 2 * width, 3), nn.MaxPool2d(2),
            _conv(nn.Conv2d, nn.BatchNorm2d, 2 * width, 2 * width, 3),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, n_classes),
        )
    if modality == "sequence":
        return nn.Sequential(
            _conv(nn.Conv1d, nn.BatchNorm1d, c, width, 5), nn.MaxPool1d(2),
            _conv(nn.Conv1d, nn.BatchNorm1d, width, 2 * width, 5), nn.MaxPool1d(2),
            _conv(nn.Conv1d, nn.BatchNorm1d, 2 * width, 2 * width, 3),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(2 * width, n_classes),
        )
    if modality == "tabular":
        hidden = 4 * width
        return nn.Sequential(
            nn.Linear(int(np.prod(input_shape)), hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_classes),
        )
    raise ValueError(f"unknown modality {modality!r}; expected image, sequence or tabular")


def _conv(conv: type, norm: type, cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(conv(cin, cout, k, padding=k // 2), norm(cout), nn.ReLU())


def augment(x: torch.Tensor, modality: str) -> torch.Tensor:
    """Label-preserving noise: flips for images, small Gaussian jitter for every modality."""
    if modality == "image":
        flip_h = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
        flip_v = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
        x = torch.where(flip_h, x.flip(-1), x)
        x = torch.where(flip_v, x.flip(-2), x)
        return x + 0.02 * torch.randn_like(x)
    return x + 0.05 * torch.randn_like(x)
