"""The upstream artifacts of a tiny in-memory domain, built with the pipeline's own code at
tiny sizes (an untrained tabular encoder, a generator trained a few steps, a judge), so method
and loop tests run the real code paths without the DVC pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.config import Params
from benchmark.construction.resources import Resources
from benchmark.data import SPLITS, DomainData
from benchmark.io import atomic_write_npz


def build_resources(data: DomainData, params: Params, folder: Path) -> Resources:
    """Encoder + embeddings, generator and judge for ``data`` under ``folder``."""
    from benchmark.stages.annotator import fit_judge
    from benchmark.upstream import encoders, generators
    from benchmark.upstream.generators.train import fit

    encoders.save(encoders.build(data.modality, data.input_shape, params.pretrain.model, 0),
                  folder / "encoder")
    encoder = encoders.load(data.modality, folder / "encoder", data.input_shape)
    z = {s: encoders.embed(data.modality, encoder, data[s].x) for s in SPLITS}
    atomic_write_npz(folder / "embeddings.npz", z)
    res = Resources(data.modality, data.input_shape, folder / "embeddings.npz",
                    folder / "encoder", folder / "generator", folder / "judge",
                    params.patterns, params.generator)
    x = np.concatenate([data["seed"].x, data["pool"].x])
    label = np.concatenate([data["seed"].y, np.full(len(data["pool"]), data.n_classes)])
    cluster = res.patterns.assign(np.concatenate([z["seed"], z["pool"]]))
    gen = generators.build(data.modality, x, data.n_classes, res.patterns.k,
                           params.generator.channels, params.generator.width, 100)
    fit(gen, x, label, cluster, 10, 32, 0.002, 0.1, 0)
    gen.save(folder / "generator")
    fit_judge(data, z, params, folder / "judge", res.embed)
    return res
