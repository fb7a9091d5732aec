"""``draws@domain``: with ``replicates.redraw``, a draw of the domain's data for every seed of
the grid, which that seed's cells construct and train on: the source built anew with seed
``domains.<d>.seed + 1 + s`` (its seed, pool, val and test splits; ``replicates.test_size``
items in each test split when set), with the seed, pool and val embeddings of the domain's
pretrained encoder. The upstream models stay those learnt on the domain's own draw, so a
replicate redraws the data without retraining them. Without redraws it writes nothing.

A seed whose draw matches its stamp (the domain's params, the seed, the encoder and this code)
is kept; a seed no longer in the grid is removed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict

from benchmark import hardware, modalities
from benchmark.closure import code_digest
from benchmark.config import Params, load_params
from benchmark.data import DomainData, load_domain, save_domain
from benchmark.io import atomic_write_json, atomic_write_npz
from benchmark.paths import (
    DRAW_EMBEDDINGS,
    domain_dir,
    draw_dir,
    draws_dir,
    encoder_dir,
)
from benchmark.stages import digest, domain_args, files_digest, run, up_to_date, write_stamp
from benchmark.stages.prepare import MIN_ITEMS, build

STAMP = "draw.stamp"
VISIBLE = ("seed", "pool", "val")  # the splits construction embeds


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    params = load_params()
    hardware.configure(params.hardware)  # before anything is written
    root = draws_dir(args.domain)
    root.mkdir(parents=True, exist_ok=True)
    seeds = params.grid.seeds_of(args.domain) if params.replicates.redraw else []
    for stale in root.iterdir():  # seeds no longer drawn
        if stale.name not in {draw_dir(args.domain, s).name for s in seeds}:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    if not seeds:
        return
    import torch

    from benchmark.upstream import (
        encoders,  # heavy (transformers): only when there is a draw to embed
    )

    torch.set_num_threads(params.pretrain.fit.threads)
    own = load_domain(domain_dir(args.domain), splits=("seed",))
    encoder = encoders.load(own.modality, encoder_dir(args.domain), own.input_shape)
    upstream = files_digest([encoder_dir(args.domain)])
    code = code_digest(["benchmark.stages.draws", modalities.code_module(own.modality)])
    for seed in seeds:
        folder, start = draw_dir(args.domain, seed), time.perf_counter()
        current = digest([asdict(params.domains[args.domain]), asdict(params.replicates),
                          seed, upstream, code])
        if up_to_date(folder / STAMP, current, folder):
            continue
        data = draw(params, args.domain, seed)
        shutil.rmtree(folder, ignore_errors=True)
        save_domain(data, folder)
        atomic_write_npz(folder / DRAW_EMBEDDINGS, {
            split: encoders.embed(data.modality, encoder, data[split].x,
                                  params.pretrain.fit.embed_batch_size) for split in VISIBLE})
        atomic_write_json(folder / "draw.json", {
            "source_seed": draw_seed(params, args.domain, seed),
            "compute/draw_s": round(time.perf_counter() - start, 3)})
        write_stamp(folder / STAMP, current, folder)
        print(f"draws {args.domain}: seed {seed} drawn", flush=True)


def draw_seed(params: Params, domain: str, seed: int) -> int:
    """The source seed of a grid seed's draw: never the domain's own (``domains.<d>.seed``)."""
    return params.domains[domain].seed + 1 + seed


def draw(params: Params, domain: str, seed: int) -> DomainData:
    """The grid seed's draw of the domain: its sizes, larger test splits when
    ``replicates.test_size`` says so, and a token ``reference`` (the judge and the round
    metrics use the domain's own).
    """
    spec = params.domains[domain]
    sizes = asdict(spec.sizes) | {"reference": MIN_ITEMS}
    if params.replicates.test_size is not None:
        sizes |= {"test_id": params.replicates.test_size,
                  "test_shift": params.replicates.test_size}
    data = build(spec, spec.source_options, sizes, draw_seed(params, domain, seed),
                 f"domains.{domain}.options.{spec.source}")
    data.name = f"{domain}/seed{seed}"
    data.info.update(source=spec.source, options=spec.source_options,
                     seed=draw_seed(params, domain, seed), draw_of=domain)
    return data


if __name__ == "__main__":
    run(main)
