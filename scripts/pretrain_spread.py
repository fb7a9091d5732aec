"""How much of an encoder's rare-pattern lift is its pretraining seed: pretrain the domain's
encoder once per seed (the pipeline's own ``fit_encoder``, params from the workspace), embed
seed / pool / val and print, per seed, the linear probes and the rare-pattern lift of the chosen
clustering and over the pattern report's clustering seeds, then the mean and 95% interval over
pretraining seeds. The pattern report (``lift_spread``) varies the clustering only; this varies
the encoder beneath it. Nothing in the workspace is written.

    python scripts/pretrain_spread.py [--workspace DIR] [--domains D ...] [--seeds 0 1 2 3 4]

Needs the prepared data (``dvc repro prepare``); images take about 40 s a seed on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
from pathlib import Path

from benchmark.config import Params, load_params
from benchmark.data import load_domain, load_learning_data
from benchmark.evaluation.metrics.stats import mean_ci
from benchmark.paths import domain_dir
from benchmark.upstream import patterns as pt
from benchmark.upstream.pattern_scores import lift_spread, rare_of, scores

COLUMNS = ("probe on seed labels", "probe on pool labels", "chosen lift", "lift over seeds")


def measure(domain: str, seed: int, params: Params) -> dict[str, float]:
    """Pretrain ``domain``'s encoder with pretraining seed ``seed`` and score its embeddings."""
    import torch

    from benchmark.stages.pretrain import fit_encoder
    from benchmark.upstream import encoders

    torch.set_num_threads(params.pretrain.fit.threads)
    cfg = params.pretrain
    cfg = dataclasses.replace(cfg, fit=dataclasses.replace(cfg.fit, seed=seed))
    data = load_domain(domain_dir(domain), splits=("seed", "pool", "val"))
    p = params.patterns
    rare = rare_of(data, p)
    if rare is None:
        raise SystemExit(f"{domain_dir(domain)}: the {domain} data record no true patterns "
                         "(meta['pattern']), so there is no rare-pattern lift to spread")
    with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
        fit_encoder(load_learning_data(domain_dir(domain)), cfg, None, Path(tmp))
        encoder = encoders.load(data.modality, tmp, data.input_shape)
        z = {s: encoders.embed(data.modality, encoder, data[s].x, cfg.fit.embed_batch_size)
             for s in ("seed", "pool", "val")}
    chosen = pt.discover_with(p, z["seed"], z["pool"])
    report = scores(z, data, {p.algorithm: chosen}, rare, p)
    return {COLUMNS[0]: report["probe_acc"], COLUMNS[1]: report["probe_acc_pool"],
            COLUMNS[2]: report[p.algorithm]["rare_lift"],
            COLUMNS[3]: lift_spread(z, data, rare, p, chosen)["mean"]}


def table(domain: str, results: dict[int, dict[str, float]]) -> str:
    """A markdown table: one row per pretraining seed, then the mean and 95% interval."""
    lines = [f"### {domain}", "", "| pretraining seed | " + " | ".join(COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]
    for seed, row in results.items():
        lines.append(f"| {seed} | " + " | ".join(f"{row[c]:.3f}" for c in COLUMNS) + " |")
    cells = []
    for c in COLUMNS:
        mean, half, _ = mean_ci([row[c] for row in results.values()])
        cells.append(f"{mean:.3f} ± {half:.3f}")
    lines.append(f"| mean ± 95% CI (n = {len(results)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path("."))
    parser.add_argument("--domains", nargs="+")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    os.chdir(args.workspace)
    params = load_params()
    for domain in args.domains or params.grid.domains:
        results = {seed: measure(domain, seed, params) for seed in args.seeds}
        print(table(domain, results), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
