"""``pretrain@domain``: pretrain the domain's encoder (or an ensemble, ``pretrain.fit.members``)
self-supervised on seed + pool (a transfer domain's: the other site's,
``domains.<d>.transfer_from``) or load the local weights named in ``pretrain.weights``, then
cache the embeddings of every split of the domain.

Outputs: the encoder (a ``save_pretrained`` folder, one per member for an ensemble), the
embeddings of every split by the pretrained encoder and by an untrained one of the same
architecture (the baseline that measures what pretraining adds), and a summary (loss at the
start and end, seconds).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import hardware
from benchmark.config import PretrainParams, as_dict, load_params
from benchmark.data import SPLITS, DomainData, load_domain, load_learning_data
from benchmark.io import atomic_write_json, atomic_write_npz
from benchmark.paths import (
    PRETRAINED,
    RANDOM_INIT,
    domain_dir,
    embeddings_file,
    encoder_dir,
    pretrain_summary,
)
from benchmark.stages import domain_args, run
from benchmark.tracking import track_domain_report


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    import torch

    import benchmark.upstream.encoders.pretrain  # noqa: F401  (Lightning: an import, not compute)
    from benchmark.upstream import encoders  # heavy (transformers): imported after argument checks

    params = load_params()
    hardware.configure(params.hardware)  # before anything is written
    torch.set_num_threads(params.pretrain.fit.threads)
    data = load_domain(domain_dir(args.domain))
    start = time.perf_counter()
    summary = fit_encoder(load_learning_data(domain_dir(args.domain)),
                          params.pretrain_for(args.domain),
                          params.pretrain.weights[args.domain], encoder_dir(args.domain))
    fitted = time.perf_counter()
    encoder = encoders.load(data.modality, encoder_dir(args.domain), data.input_shape)
    untrained = encoders.random_like(encoder, params.pretrain.fit.seed)
    for name, model in ((PRETRAINED, encoder), (RANDOM_INIT, untrained)):
        arrays = {split: encoders.embed(data.modality, model, data[split].x,
                                        params.pretrain.fit.embed_batch_size) for split in SPLITS}
        atomic_write_npz(embeddings_file(args.domain, name), arrays)
    summary.update({"embedding_dim": arrays["seed"].shape[1],
                    "compute/pretrain_s": round(fitted - start, 3),
                    "compute/embed_s": round(time.perf_counter() - fitted, 3)})
    atomic_write_json(pretrain_summary(args.domain), summary)
    config = {"domain": args.domain, "profile": params.profile,
              "pretrain": as_dict(params.pretrain_for(args.domain))}
    track_domain_report(params.tracking, params.grid.experiment, params.profile, args.domain,
                        "pretrain", config, summary)


def fit_encoder(data: DomainData, params: PretrainParams, weights: str | None,
                folder: Path) -> dict[str, Any]:
    """Pretrain a fresh encoder (or ensemble, ``params.fit.members``) on ``data``'s seed + pool,
    or copy the local ``weights``, into ``folder``."""
    from benchmark.upstream import encoders
    from benchmark.upstream.encoders.pretrain import pretrain

    if weights is not None:
        encoders.save(encoders.load(data.modality, weights, data.input_shape), folder)
        return {"source": weights}
    x = np.concatenate([data["seed"].x, data["pool"].x])
    count = params.fit.members.of(data.modality)
    members, first, last = [], [], []
    for i in range(count):
        fit = dataclasses.replace(params.fit, seed=params.fit.seed * count + i)
        model = encoders.build(data.modality, data.input_shape, params.model, fit.seed)
        name = f"pretrain {data.name}" + (f" {i + 1}/{count}" if count > 1 else "")
        losses = pretrain(model, data.modality, x, fit, name=name)
        head = max(1, len(losses) // 10)
        first.append(float(np.mean(losses[:head])))
        last.append(float(np.mean(losses[-head:])))
        members.append(model)
    encoders.save(members[0] if count == 1 else encoders.Ensemble(members), folder)
    return {"source": "pretrained", "steps": len(losses), "members": count,
            "loss/first": float(np.mean(first)), "loss/last": float(np.mean(last))}


if __name__ == "__main__":
    run(main)
