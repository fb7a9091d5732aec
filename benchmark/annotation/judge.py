"""The judge: how the simulated annotator answers for synthetic items, which have no truth.

A downstream network trained on the ``reference`` split (real, labelled, never shown to a method)
gives the class; a realism check in the encoder's space rejects items a person would discard:
an item whose distance to its k-th nearest real reference item exceeds the ``quantile`` of the
same distance for real ``val`` items is unrealistic (so about 1 - quantile of real items would
fail too), and so is an item the judge cannot place in any class with ``min_confidence``.
Stored as plain ``torch`` weights + JSON, so loading it inside ``construct`` needs no Lightning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark import hardware
from benchmark.io import atomic_write, atomic_write_json, read_json, read_weights
from benchmark.modalities import modality

WEIGHTS, CARD = "judge.pt", "judge.json"


def knn_distance(z: np.ndarray, z_ref: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row of ``z`` to its k-th nearest row of ``z_ref``."""
    d = torch.cdist(torch.as_tensor(z, dtype=torch.float32),
                    torch.as_tensor(z_ref, dtype=torch.float32))
    return torch.kthvalue(d, min(k, d.shape[1]), dim=1).values.numpy()


@dataclass
class Judge:
    """A trained reference classifier plus a realism radius in encoder space."""

    net: torch.nn.Module
    card: dict[str, Any]  # modality, input_shape, n_classes, width, radius, k, min_confidence
    embed: Callable[[np.ndarray], np.ndarray]  # the domain's encoder
    z_reference: np.ndarray

    @torch.no_grad()
    def proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities, computed on the process's device (``benchmark.hardware``)."""
        on = hardware.device()
        self.net.to(on).eval()
        parts = [torch.softmax(self.net(torch.from_numpy(np.ascontiguousarray(
            x[i:i + 1024], dtype=np.float32)).to(on)), -1).cpu().numpy()
            for i in range(0, len(x), 1024)]
        return np.concatenate(parts) if parts else np.zeros((0, self.card["n_classes"]))

    def realistic(self, x: np.ndarray) -> np.ndarray:
        dist = knn_distance(self.embed(x), self.z_reference, self.card["k"])
        return dist <= self.card["radius"]

    def review(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per item: the judged class and whether a person would accept it as realistic."""
        proba = self.proba(x)
        confident = proba.max(axis=1) >= self.card["min_confidence"]
        return proba.argmax(axis=1), self.realistic(x) & confident

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        atomic_write(folder / WEIGHTS, lambda fh: torch.save(self.net.state_dict(), fh))
        atomic_write_json(folder / CARD, self.card)


def load(folder: str | Path, embed: Callable[[np.ndarray], np.ndarray],
         z_reference: np.ndarray) -> Judge:
    """A judge saved by :meth:`Judge.save`, with the encoder and reference embeddings."""
    folder = Path(folder)
    rebuild = f"dvc repro annotator@{folder.parent.name}"  # models/<domain>/annotator
    if not (folder / CARD).is_file():
        raise FileNotFoundError(f"{folder / CARD} is missing: run the annotator stage first "
                                f"(`{rebuild}`)")
    card = read_json(folder / CARD, rebuild)
    net = modality(card["modality"]).backbone(tuple(card["input_shape"]), card["n_classes"],
                                              card["width"])
    net.load_state_dict(read_weights(folder / WEIGHTS, rebuild))
    return Judge(net.eval(), card, embed, z_reference)
