"""The foundation model: one ``transformers`` encoder per modality, built from a config (never
downloaded), pretrained self-supervised in the pipeline and stored with ``save_pretrained``.

    model = build("image", (3, 16, 16), params.pretrain.model, seed=0)   # pretraining model
    save(model, folder)                                                   # save_pretrained
    encoder = load("image", folder)                                       # encoder, no masking
    z = embed("image", encoder, x)                                        # (n, dim) float32

An :class:`Ensemble` (members pretrained from different seeds) saves, loads and embeds the same
way; its folder holds one ``save_pretrained`` folder per member.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedModel
from transformers.utils import logging as hf_logging

from benchmark import hardware, modalities
from benchmark.config import EncoderParams
from benchmark.io import DataFormatError
from benchmark.upstream.encoders.base import EncoderFamily
from benchmark.upstream.encoders.image import ImageMAE
from benchmark.upstream.encoders.sequence import SequenceMAE
from benchmark.upstream.encoders.tabular import TabularMAE

FAMILIES: dict[str, EncoderFamily] = {
    "image": ImageMAE(), "sequence": SequenceMAE(), "tabular": TabularMAE(),
}


MEMBER = "member-{}"  # an ensemble's folder holds member-0, member-1, ... (save_pretrained each)


class Ensemble(torch.nn.Module):
    """Encoders of one architecture pretrained from different seeds, read as one: the embedding
    concatenates theirs. A small encoder's clusters depend on the luck of its seed; what its
    members share is what survives the standardisation and principal components every reader
    applies.

    Measured on the quick robotics data (tabular MLPs, 8 draws of each size): the chosen
    clustering's rare-pattern lift 0.99 - 2.51 (mean 1.65) for one encoder, 1.37 - 1.77 (1.57)
    for 4 members, 1.53 - 1.69 (1.61, 4 draws) for 8; its mean over clustering seeds 1.45 +- 0.18
    -> 1.61 +- 0.10 (sd); linear probe 0.898 -> 0.918. On the climate sequences 3 PatchTSTs
    raised the probe (0.78 -> 0.81) but lowered the lift (1.49 -> 1.17, 3 draws), so the
    ensemble is set per modality (``pretrain.fit.members``).
    """

    def __init__(self, members: Sequence[PreTrainedModel]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = torch.nn.ModuleList(members)


Encoder = PreTrainedModel | Ensemble


def family(modality: str) -> EncoderFamily:
    """The encoder family of a modality: that of its kind (a clear error for an unknown one)."""
    kind = modalities.modality(modality).kind
    if kind not in FAMILIES:
        raise ValueError(f"no encoder for modality {modality!r} (kind {kind!r}); "
                         f"expected one of {sorted(FAMILIES)}")
    return FAMILIES[kind]


def build(modality: str, input_shape: tuple[int, ...], params: EncoderParams,
          seed: int) -> PreTrainedModel:
    """A freshly initialised pretraining model (encoder + reconstruction head)."""
    fam = family(modality)
    torch.manual_seed(seed)
    return fam.pretraining_class(fam.config(tuple(input_shape), params))


def random_like(encoder: Encoder, seed: int) -> Encoder:
    """The same architecture and config, untrained: the baseline that measures what
    pretraining adds.
    """
    if isinstance(encoder, Ensemble):
        return Ensemble([random_like(m, seed + i) for i, m in enumerate(encoder.members)]).eval()
    torch.manual_seed(seed)
    return type(encoder)(copy.deepcopy(encoder.config)).eval()


def save(model: Encoder, folder: str | Path) -> None:
    """``save_pretrained`` (each member's into its own subfolder) into a sibling temp folder,
    then swap it in: never half a model."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        with quiet():
            if isinstance(model, Ensemble):
                for i, member in enumerate(model.members):
                    member.save_pretrained(tmp / MEMBER.format(i))
            else:
                model.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(modality: str, path: str | Path,
         input_shape: tuple[int, ...] | None = None) -> Encoder:
    """The encoder of a local ``save_pretrained`` folder (pretraining or encoder checkpoint)
    or of an ensemble's folder of them, set up for embedding; ``input_shape`` checks it fits the
    domain's items.
    """
    fam = family(modality)
    path = Path(path)
    if not (path / "config.json").is_file():
        members = []
        while (path / MEMBER.format(len(members)) / "config.json").is_file():
            members.append(load(modality, path / MEMBER.format(len(members)), input_shape))
        if members:
            return Ensemble(members).eval()
        raise FileNotFoundError(f"{path}: not a save_pretrained folder (no config.json) nor an "
                                f"ensemble's (no {MEMBER.format(0)}/config.json)")
    try:
        with quiet():
            encoder, info = fam.encoder_class.from_pretrained(path, output_loading_info=True,
                                                              **fam.inference)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
        raise DataFormatError(f"{path}: not a readable {modality} encoder "
                              f"({type(err).__name__}); rebuild it with `dvc repro pretrain` (or "
                              "point pretrain.weights at a save_pretrained folder)") from None
    if info["missing_keys"]:
        raise ValueError(f"{path}: the checkpoint lacks encoder weights "
                         f"{sorted(info['missing_keys'])[:5]}")
    if input_shape is not None and fam.input_shape(encoder.config) != tuple(input_shape):
        raise ValueError(f"{path}: encoder takes inputs of shape "
                         f"{fam.input_shape(encoder.config)}, the domain has {tuple(input_shape)}")
    return encoder.eval()


@contextmanager
def quiet() -> Iterator[None]:
    """Silence ``transformers`` progress bars and its report of the reconstruction head's
    weights, which the encoder rightly leaves out; missing weights are checked explicitly.
    """
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


@torch.no_grad()
def embed(modality: str, encoder: Encoder, x: np.ndarray,
          batch_size: int = 512) -> np.ndarray:
    """Embeddings of ``x`` in batches, float32 ``(n, dim)``, computed on the process's device
    (``benchmark.hardware``); an ensemble's members' side by side."""
    if isinstance(encoder, Ensemble):
        return np.concatenate([embed(modality, m, x, batch_size) for m in encoder.members], 1)
    fam, on = family(modality), hardware.device()
    encoder.to(on).eval()
    parts = [fam.pool(encoder, torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(on))
             for i in range(0, len(x), batch_size)]
    return torch.cat(parts).cpu().numpy().astype(np.float32)
