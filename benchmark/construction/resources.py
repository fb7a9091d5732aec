"""Lazy handles to what the upstream stages built for a domain, shared by every method: the
encoder and its cached embeddings, the frozen pattern clusters, the generator and the judge.

Nothing is loaded until it is needed, so ``random`` or ``seed_only`` never pay for the
generator. These are the harness's handles (the judge and ``reference`` / test embeddings
among them): a method never holds this object, only the sealed view the loop builds from it
(``benchmark.method.RoundView``); items are embedded by id in ``benchmark.construction.items``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config import GeneratorParams, PatternsParams
from benchmark.io import read_npz
from benchmark.upstream import patterns as pt


class Resources:
    """The domain's encoder, embeddings, patterns, generator and judge, loaded on first use."""

    def __init__(self, modality: str, input_shape: tuple[int, ...], embeddings: str | Path,
                 encoder: str | Path, generator: str | Path, judge: str | Path,
                 patterns: PatternsParams, sampling: GeneratorParams,
                 draw: str | Path | None = None) -> None:
        self.modality, self.input_shape = modality, tuple(input_shape)
        self.paths = {"embeddings": Path(embeddings), "encoder": Path(encoder),
                      "generator": Path(generator), "judge": Path(judge)}
        self.draw = Path(draw) if draw is not None else None
        self.patterns_params, self.sampling = patterns, sampling

    @cached_property
    def upstream_embeddings(self) -> dict[str, np.ndarray]:
        """Pretrained-encoder embeddings of every split of the domain's own draw (the
        ``pretrain`` stage's cache): what the clusters were found in, and ``reference``.
        """
        path = self.paths["embeddings"]  # embeddings/<domain>/pretrained.npz
        return read_npz(path, rebuild=f"dvc repro pretrain@{path.parent.name}")

    @cached_property
    def embeddings(self) -> dict[str, np.ndarray]:
        """Embeddings of the run's splits: the domain's own, or with a redraw (``draw``: the
        ``draws`` stage's file) its seed, pool and val over them.
        """
        if self.draw is None:
            return self.upstream_embeddings
        rebuild = f"dvc repro draws@{self.draw.parents[1].name}"  # draws/<domain>/seed<s>/
        return {**self.upstream_embeddings, **read_npz(self.draw, rebuild=rebuild)}

    @cached_property
    def encoder(self) -> Any:
        from benchmark.upstream import encoders

        return encoders.load(self.modality, self.paths["encoder"], self.input_shape)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """Encoder embeddings of raw items."""
        from benchmark.upstream import encoders

        if len(x) == 0:
            return np.zeros((0, self.embeddings["seed"].shape[1]), np.float32)
        return encoders.embed(self.modality, self.encoder, np.asarray(x, np.float32))

    def reference_radii(self, k: int) -> np.ndarray:
        """k-NN radii of the ``reference`` embeddings (PRDC), computed once per cell."""
        from benchmark.upstream.generators.measure import knn_radii

        cache = self.__dict__.setdefault("_radii", {})
        if k not in cache:
            cache[k] = knn_radii(self.embeddings["reference"], k)
        return cache[k]

    @cached_property
    def patterns(self) -> pt.Patterns:
        """The frozen clusters of ``patterns@domain`` (the generator's cluster conditions),
        recomputed deterministically from the domain's own pretrained embeddings.
        """
        z = self.upstream_embeddings
        return pt.discover_with(self.patterns_params, z["seed"], z["pool"])

    @cached_property
    def generator(self) -> Any:
        from benchmark.upstream import generators

        return generators.load(self.paths["generator"])

    def sample(self, n: int, label: Any, cluster: Any, seed: int
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``n`` generated items (targeted or not) with the pipeline's sampler settings."""
        from benchmark.upstream.generators import sample

        s = self.sampling
        return sample(self.generator, n, label, cluster, sampler=s.sampler,
                      steps=s.sample_steps, guidance=s.guidance, seed=seed)

    @cached_property
    def judge(self) -> Any:
        from benchmark.annotation import judge

        return judge.load(self.paths["judge"], self.embed, self.embeddings["reference"])
