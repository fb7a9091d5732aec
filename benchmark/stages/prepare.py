"""``prepare@domain``: build a domain's six splits from its configured source and save them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict

from benchmark.config import load_params
from benchmark.data import save_domain
from benchmark.domain import DOMAINS
from benchmark.paths import domain_dir
from benchmark.stages import domain_args, run


def main(argv: Sequence[str] | None = None) -> None:
    args = domain_args(__doc__, argv)
    params = load_params()
    spec = params.domains[args.domain]
    start = time.perf_counter()
    source = DOMAINS.get(spec.source)(**spec.source_options)
    data = source.build(asdict(spec.sizes), spec.seed)
    data.name = args.domain
    data.info.update(source=spec.source, options=spec.source_options, seed=spec.seed,
                     prepare_seconds=round(time.perf_counter() - start, 3))
    save_domain(data, domain_dir(args.domain))


if __name__ == "__main__":
    run(main)
