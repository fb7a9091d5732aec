"""Time one ``adaptive`` construction cell as the pool grows: its cost should be linear in the
pool size (embedding-space neighbours, acquisition, the diversity rule), with no pool x pool step.

    python scripts/benchmark_pool.py [--pools 10000 20000] [--domain biomedical] [--repeats 1]
                                     [--judge-steps N] [--cprofile N]

Each pool size gets the domain's data from its registered source at the profile's sizes
(only ``pool`` changes: every split draws from its own seed, so ``seed``, ``val`` and the rest
stay the same items), and its upstream (untrained encoder + cached embeddings, a generator
trained a few steps, the judge) built with the pipeline's own code as ``tests/toy_upstream.py``
does, in a temporary folder; that building is not timed (``--judge-steps`` shortens it: the
judge learns on ``reference``, whatever the pool). Then one ``adaptive`` cell runs at the
profile's budget and rounds, one thread as ``construct@domain`` runs it, with fresh resource
handles (so the clustering, the generator and judge loading count, as in a pipeline cell) and
a fresh ledger; only that cell is timed, after an untimed warm-up cell that pays the imports.
Prints per pool size the cell's seconds (median of ``--repeats``) and its rounds' seconds,
then t(b) / t(a) beside the pool ratio b / a: linear cost keeps the first at or below the
second. The generator is fitted on each pool, so the synthetic items (the fixed part of the
cost) differ a little between sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def build_domain(params, domain: str, pool: int):
    """The domain's data at the profile's sizes, with ``pool`` items in the pool split."""
    from benchmark.domain import DOMAINS

    spec = params.domains[domain]
    sizes = {**asdict(spec.sizes), "pool": pool}
    return DOMAINS.get(spec.source)(**spec.source_options).build(sizes, spec.seed)


def time_cell(data, params, upstream: Path, folder: Path, seed: int) -> tuple[float, list[float],
                                                                            dict]:
    """Seconds of one ``adaptive`` cell (as ``construct_cell`` runs it), per-round seconds and
    the run's summary (stop reason, cost, |D|).
    """
    from benchmark.annotation import Ledger, SimulatedAnnotator
    from benchmark.construction.loop import construct
    from benchmark.construction.resources import Resources
    from benchmark.data import Split
    from benchmark.method import METHODS

    start = time.perf_counter()
    marks: list[float] = []
    method = METHODS.get(params.method_plugin("adaptive"))(**params.method_options("adaptive"))
    res = Resources(data.modality, data.input_shape, upstream / "embeddings.npz",
                    upstream / "encoder", upstream / "generator", upstream / "judge",
                    params.patterns, params.generator)
    pool = data["pool"]
    ledger = Ledger(folder / "ledger.jsonl", f"benchmark_pool-{len(pool)}-{seed}")
    annotator = SimulatedAnnotator(
        {f"pool:{i}": int(y) for i, y in enumerate(pool.y)}, data.n_classes, ledger,
        asdict(params.annotator.costs), params.annotator.error_rate, seed,
        params.annotator.name, _LazyJudge(res))
    hidden = Split(pool.x, np.full(len(pool), -1), pool.group)
    result = construct(method, data["seed"], hidden, data["val"], data.n_classes, annotator,
                       params.construct, seed, folder / "state.npz", res,
                       lambda log: marks.append(time.perf_counter()))
    total = time.perf_counter() - start
    rounds = np.diff([start, *marks]).tolist()
    return total, rounds, {"stop": result.stop_reason, "cost": round(result.cost, 3),
                           "size": len(result.dataset)}


class _LazyJudge:
    """The judge loaded on first review, as ``construct@domain`` does."""

    def __init__(self, res) -> None:
        self.res = res

    def review(self, x):
        return self.res.judge.review(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--domain", default="biomedical")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0, help="the cell's run seed")
    parser.add_argument("--repeats", type=int, default=1, help="cells per pool size (median)")
    parser.add_argument("--judge-steps", type=int, default=None,
                        help="judge training steps (upstream only, untimed; default: profile)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="after the timings, one more cell at the largest pool under "
                             "cProfile: print its N functions of highest cumulative time")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from benchmark.config import parse_params, read_yaml, with_profile
    from benchmark.stages import one_thread
    from tests.toy_upstream import build_resources

    params = parse_params(with_profile(read_yaml(REPO / "params.yaml"), args.profile))
    if args.judge_steps is not None:
        judge = replace(params.annotator.judge, max_steps=args.judge_steps,
                        val_every=min(params.annotator.judge.val_every, args.judge_steps))
        params = replace(params, annotator=replace(params.annotator, judge=judge))
    print(f"{args.domain} ({params.domains[args.domain].source}), profile {args.profile}: "
          f"budget {params.construct.budget:g}, {params.construct.rounds} rounds, "
          f"adaptive {params.method_options('adaptive')}")
    with tempfile.TemporaryDirectory(prefix="benchmark_pool-") as tmp:
        built = {}
        for n in args.pools:  # upstream first, untimed, with the stages' own thread counts
            start = time.perf_counter()
            data = build_domain(params, args.domain, n)
            folder = Path(tmp) / f"pool{n}" / "upstream"
            build_resources(data, params, folder)
            built[n] = (data, folder)
            print(f"pool {n:>6}: data + upstream built in {time.perf_counter() - start:.1f} s "
                  "(untimed)", flush=True)
        one_thread()  # as construct@domain runs every cell
        data, upstream = built[args.pools[0]]  # untimed: pays the imports, as the stage does
        time_cell(data, params, upstream, Path(tmp) / "warmup", args.seed)
        seconds: dict[int, float] = {}
        for n in args.pools:
            data, upstream = built[n]
            runs = []
            for r in range(args.repeats):
                runs.append(time_cell(data, params, upstream,
                                      Path(tmp) / f"pool{n}" / f"cell{r}", args.seed))
            seconds[n] = statistics.median(t for t, _, _ in runs)
            rounds = " ".join(f"{s:.2f}" for s in runs[0][1])
            print(f"pool {n:>6}: construct {seconds[n]:7.2f} s   rounds [{rounds}] s   "
                  f"{runs[0][2]}", flush=True)
        if args.cprofile:
            import cProfile
            import pstats

            n = max(args.pools)
            data, upstream = built[n]
            with cProfile.Profile() as prof:
                time_cell(data, params, upstream, Path(tmp) / f"pool{n}" / "profiled", args.seed)
            print(f"pool {n:>6}: cProfile of one cell (slower than the timings above)")
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(
                args.cprofile)
    first, last = args.pools[0], args.pools[-1]
    for a, b in zip(args.pools, args.pools[1:], strict=False):
        print(f"t({b})/t({a}) = {seconds[b] / seconds[a]:.2f}   (pool ratio {b / a:.2f})")
    if len(args.pools) > 2:
        print(f"t({last})/t({first}) = {seconds[last] / seconds[first]:.2f}   "
              f"(pool ratio {last / first:.2f})")


if __name__ == "__main__":
    main()
