"""``annotator@domain``: train the simulated annotator's judge once per domain, shared by every
method: the downstream network, wider and trained longer, on the ``reference`` split (real,
labelled, never shown to a method), selected on ``val``; and its realism radius in the encoder's
space, calibrated on real ``val`` items.

Outputs: the judge (``models/<domain>/annotator/``) and its report (DVC metrics): accuracy on
``val``, ``test_id`` and ``test_shift`` — how good the stand-in for people is — and the share of
real held-out items its realism check would wrongly reject.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import hardware
from benchmark.config import Params, as_dict, load_params
from benchmark.data import DomainData, load_domain
from benchmark.io import atomic_write_json, read_npz
from benchmark.paths import (
    PRETRAINED,
    annotator_dir,
    annotator_report,
    domain_dir,
    embeddings_file,
)
from benchmark.stages import domain_args, run
from benchmark.tracking import track_domain_report

SPLITS = ("reference", "val", "test_id", "test_shift")


def fit_judge(data: DomainData, z: dict[str, np.ndarray], params: Params, folder: Path,
              embed: Any = None) -> tuple[Any, dict[str, Any]]:
    """Train the judge on ``reference`` and calibrate its realism radius on ``val``."""
    from benchmark.annotation.judge import Judge, knn_distance
    from benchmark.evaluation import downstream

    cfg = params.annotator.judge
    recipe = dataclasses.replace(params.train, max_steps=cfg.max_steps, width=cfg.width,
                                 val_every=cfg.val_every, threads=cfg.threads)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".fit-") as tmp:
        model = downstream.fit(data["reference"], data["val"], data.modality, data.n_classes,
                               recipe, params.pretrain.fit.seed, Path(tmp) / "judge.ckpt",
                               name=f"judge {data.name}", lines=10)
    radius = float(np.quantile(knn_distance(z["val"], z["reference"], cfg.k),
                               cfg.realism_quantile))
    card = {"modality": data.modality, "input_shape": list(data["reference"].x.shape[1:]),
            "n_classes": data.n_classes, "width": cfg.width, "radius": radius, "k": cfg.k,
            "min_confidence": cfg.min_confidence}
    judge = Judge(model.net.eval(), card, embed or (lambda x: x), z["reference"])
    scores: dict[str, Any] = {}
    for split in ("val", "test_id", "test_shift"):
        part = data[split]
        label = judge.proba(part.x).argmax(axis=1)
        scores[f"{split}/acc"] = float((label == part.y).mean())
        realistic = knn_distance(z[split], z["reference"], cfg.k) <= radius
        scores[f"{split}/realism_false_reject"] = float(1 - realistic.mean())
    card["scores"] = scores
    judge.save(folder)
    return judge, scores


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    params = load_params()
    hardware.configure(params.hardware)  # before anything is written
    data = load_domain(domain_dir(args.domain), splits=SPLITS)
    z = read_npz(embeddings_file(args.domain, PRETRAINED), SPLITS,
                 f"dvc repro pretrain@{args.domain}")
    import benchmark.annotation.judge  # noqa: F401  (torch, Lightning: imports, not compute)
    import benchmark.evaluation.downstream  # noqa: F401

    start = time.perf_counter()
    _, scores = fit_judge(data, z, params, annotator_dir(args.domain))
    report = {"judge": scores, "reference_items": len(data["reference"]),
              "costs": dataclasses.asdict(params.annotator.costs),
              "error_rate": params.annotator.error_rate,
              "compute/judge_s": round(time.perf_counter() - start, 3)}
    atomic_write_json(annotator_report(args.domain), report)
    config = {"domain": args.domain, "profile": params.profile,
              "annotator": as_dict(params.annotator), "train": as_dict(params.train)}
    track_domain_report(params.tracking, params.grid.experiment, params.profile, args.domain,
                        "annotator", config, report)


if __name__ == "__main__":
    run(main)
