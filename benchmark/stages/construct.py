"""``construct@domain-method-seed``: run a construction method under the annotation budget.

Outputs: the constructed dataset, a summary of the construction (cost, counts, rounds, time),
and — kept across reruns so a killed run resumes — the annotation ledger and the loop state.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from benchmark.annotation import Ledger, SimulatedAnnotator
from benchmark.config import Params, load_params
from benchmark.data import DomainData, Split, load_domain, save_split
from benchmark.io import atomic_write_json
from benchmark.loop import construct
from benchmark.method import METHODS
from benchmark.paths import CONSTRUCTION, DATASET, LEDGER, STATE, domain_dir, run_dir
from benchmark.stages import cell_args, digest, run


def fingerprint(params: Params, data: DomainData, method: str, seed: int) -> str:
    """Everything the annotations of a run depend on; a change starts a fresh ledger."""
    content = hashlib.sha256()
    for split in ("seed", "pool", "val"):
        content.update(data[split].x.tobytes())
        content.update(data[split].y.tobytes())
    return digest({
        "data": content.hexdigest(), "method": method, "seed": seed,
        "options": params.method_options(method),
        "construct": asdict(params.construct), "annotator": asdict(params.annotator),
    })


def main(argv: Sequence[str] | None = None) -> None:
    args = cell_args(__doc__, argv)
    params = load_params()
    start = time.perf_counter()
    data = load_domain(domain_dir(args.domain), splits=("seed", "pool", "val"))
    method = METHODS.get(args.method)(**params.method_options(args.method))
    out = run_dir(args.domain, args.method, args.seed)
    ledger = Ledger(out / LEDGER, fingerprint(params, data, args.method, args.seed))
    pool = data["pool"]
    annotator = SimulatedAnnotator(
        {f"pool:{i}": int(y) for i, y in enumerate(pool.y)}, data.n_classes, ledger,
        params.annotator.cost_label, params.annotator.error_rate, args.seed, params.annotator.name)
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)  # methods never see pool labels
    result = construct(method, data["seed"], hidden, data["val"], data.n_classes, annotator,
                       params.construct, args.seed, out / STATE)
    save_split(result.dataset, out / DATASET)
    atomic_write_json(out / CONSTRUCTION, {
        "cost": result.cost, "annotations": len(ledger.entries),
        "actions": dict(Counter(a.action for a in ledger.entries)),
        "origin": dict(Counter(result.dataset.meta["origin"].tolist())),
        "dataset_size": len(result.dataset), "stop_reason": result.stop_reason,
        "rounds": result.rounds, "seconds": round(time.perf_counter() - start, 3),
    })


if __name__ == "__main__":
    run(main)
