"""``pretrain@domain``: pretrain the domain's encoder self-supervised on seed + pool (a transfer
domain's: the other site's, ``domains.<d>.transfer_from``) or load the local weights named in
``pretrain.weights``, then cache the embeddings of every split of the domain.

Outputs: the encoder (``save_pretrained`` folder), the embeddings of every split by the
pretrained encoder and by an untrained one of the same architecture (the baseline that measures
what pretraining adds), and a summary (loss at the start and end, seconds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.config import PretrainParams, load_params
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


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    import torch

    import benchmark.encoders.pretrain  # noqa: F401  (Lightning: an import, not compute)
    from benchmark import encoders  # heavy (transformers): imported after argument checks

    params = load_params()
    torch.set_num_threads(params.pretrain.fit.threads)
    data = load_domain(domain_dir(args.domain))
    start = time.perf_counter()
    summary = fit_encoder(load_learning_data(domain_dir(args.domain)), params.pretrain,
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


def fit_encoder(data: DomainData, params: PretrainParams, weights: str | None,
                folder: Path) -> dict[str, Any]:
    """Pretrain a fresh encoder on ``data``'s seed + pool, or copy the local ``weights``, into
    ``folder``."""
    from benchmark import encoders
    from benchmark.encoders.pretrain import pretrain

    if weights is not None:
        encoders.save(encoders.load(data.modality, weights, data.input_shape), folder)
        return {"source": weights}
    model = encoders.build(data.modality, data.input_shape, params.model, params.fit.seed)
    losses = pretrain(model, data.modality, np.concatenate([data["seed"].x, data["pool"].x]),
                      params.fit, name=f"pretrain {data.name}")
    encoders.save(model, folder)
    head = max(1, len(losses) // 10)
    return {"source": "pretrained", "steps": len(losses),
            "loss/first": float(np.mean(losses[:head])),
            "loss/last": float(np.mean(losses[-head:]))}


if __name__ == "__main__":
    run(main)
