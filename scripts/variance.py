"""Where the spread of a comparison comes from: training noise against everything else.

    python scripts/variance.py WORKSPACE [--fits 3] [--domains D ...] [--methods M ...]

WORKSPACE is a finished pipeline or experiment workspace (for example
``.experiments/baseline_comparison-quick``). Every constructed dataset there
(``runs/<d>/<m>/seed<s>/dataset.npz``, the chosen setting of a tuned entry) is refitted with
the fixed downstream recipe under ``--fits`` other training seeds and scored on ``test_shift``.
Per domain it prints, for each method and for its paired difference against the workspace's
reference (``reports/paired.csv``): the sd over the workspace's seeds (one fit each: the
spread the report sees), the sd of the fits of one dataset (training noise, pooled over its
datasets), the rest (the seeds' other sources: construction, and the data where replicates
redraw it), and the replicates a CI half-width of ``--target`` needs with one fit per dataset
and with the mean of k fits (sd^2 = rest^2 + train^2 / k). That says whether more fits per
dataset or more replicates buy precision more cheaply.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def refit(domain: str, variant: str, seed: int, fits: int) -> list[float]:
    """Shift accuracy of ``fits`` models of one cell's dataset (training seeds 1000 + k)."""
    import tempfile

    from benchmark.config import load_params
    from benchmark.data import load_domain, load_split
    from benchmark.evaluation import downstream
    from benchmark.evaluation.evaluate import score
    from benchmark.paths import DATASET, domain_dir, run_dir

    params = load_params()
    data = load_domain(domain_dir(domain), ("val", "test_id", "test_shift"))
    dataset = load_split(run_dir(domain, variant, seed) / DATASET)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(fits):
            model = downstream.fit(dataset, data["val"], data.modality, data.n_classes,
                                   params.train, 1000 + k, Path(tmp) / "m.ckpt",
                                   name=f"{domain}/{variant}/seed{seed} fit {k}")
            out.append(score(lambda x, m=model: downstream.predict(m, x), data)[0][
                "test_shift/acc"])
    return out


def components(cells: pd.DataFrame) -> dict[str, float]:
    """The sd over seeds (one fit each), the training sd (pooled within datasets), the rest."""
    total = float(cells.groupby("seed").first()["acc"].std(ddof=1))
    train = float(np.sqrt(np.mean([np.var(f, ddof=1) for f in cells["fits"]])))
    return {"sd": total, "train": train, "rest": math.sqrt(max(total**2 - train**2, 0.0))}


def needed(sd: float, target: float) -> float:
    from benchmark.evaluation.metrics.stats import replicates_needed

    return replicates_needed(sd, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--domains", nargs="+")
    parser.add_argument("--methods", nargs="+", help="entries (default: every one reported)")
    parser.add_argument("--target", type=float, default=0.03)
    parser.add_argument("--workers", type=int, help="fits at once (default: the workspace's "
                        "grid.workers)")
    args = parser.parse_args()
    os.chdir(args.workspace)
    sys.path.insert(0, str(Path.cwd()))
    from benchmark.config import load_params
    from benchmark.stages import run_cells

    results = pd.read_csv("reports/results.csv")
    paired = pd.read_csv("reports/paired.csv")
    if "variant" not in results:
        results = results.assign(variant=results.method)
    keep = results.domain.isin(args.domains or results.domain.unique()) & results.method.isin(
        args.methods or results.method.unique())
    cells = results[keep][["domain", "method", "variant", "seed", "test_shift/acc"]]
    from benchmark.evaluation import downstream  # noqa: F401  (Lightning, imported once before the forks)

    fits = run_cells(refit, [(d, v, int(s), args.fits) for d, v, s in
                             cells[["domain", "variant", "seed"]].itertuples(index=False)],
                     args.workers or load_params().grid.cells_at_once())
    cells = cells.rename(columns={"test_shift/acc": "acc"}).assign(fits=fits)
    for domain, part in cells.groupby("domain", sort=False):
        reference = paired[paired.domain == domain].baseline.iloc[0]
        base = part[part.method == reference].set_index("seed")
        print(f"\n{domain} (reference {reference}; sd of test_shift/acc; replicates for "
              f"± {args.target:g} with 1 fit / {args.fits} fits per dataset)")
        for method, rows in part.groupby("method", sort=False):
            c = components(rows)
            line = (f"  {method:14s} sd {c['sd']:.3f}  train {c['train']:.3f}  "
                    f"rest {c['rest']:.3f}")
            if method != reference:
                own = rows.set_index("seed")
                seeds = sorted(set(own.index) & set(base.index))
                diff = own.loc[seeds, "acc"] - base.loc[seeds, "acc"]
                sd = float(diff.std(ddof=1))
                train = math.sqrt(c["train"] ** 2 + components(base.reset_index())["train"] ** 2)
                rest = math.sqrt(max(sd**2 - train**2, 0.0))
                k_fits = math.sqrt(rest**2 + train**2 / args.fits)
                line += (f"   paired: sd {sd:.3f} train {train:.3f} rest {rest:.3f}  "
                         f"n {needed(sd, args.target):.0f} / {needed(k_fits, args.target):.0f}")
            print(line)


if __name__ == "__main__":
    main()
