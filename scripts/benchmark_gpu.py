"""Time a profile on this machine's accelerator: `dvc repro` in a fresh clone, per stage, with
the GPU's busy share, and the extrapolation to the whole profile.

    python scripts/benchmark_gpu.py [--profile paper] [--accelerator auto] [--domains biomedical]
                                    [--workers 8] [--curve 1 2 4 8 16]

On a machine with a GPU the `paper` profile runs (its `hardware.accelerator: auto` takes the
GPU); on a CPU-only machine the script says so and runs `quick` instead. Per stage it prints the
wall seconds (from the moments DVC announces each stage), the compute seconds the stage reports
itself, the fits' optimiser steps per second where a stage reports them, and the GPU's busy
share: the mean utilisation `nvidia-smi` reports over the stage (sampled every second), and the
share of samples in which the GPU did anything. `--accelerator` overrides the profile's
(`--profile quick --accelerator auto` runs the quick sizes on the GPU). With `--domains`, the
per-domain stages are scaled by the number of domains the profile has (the generator stage too:
it trains one generator per domain), and the shared stages (plugins, report) counted once, to
extrapolate to the whole profile. `--workers` sets `grid.workers` (cells side by
side; default `auto`, one per core). `--curve` then trains the first domain's cells again
(`train@domain`, every cell refitted) at each of the worker counts given, and prints the
throughput curve: wall, cells per minute and the GPU's busy share per count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_pipeline import ENV, compute_seconds, finish, fresh_clone, timed_repro  # noqa: E402

PER_RUN = {"report", "plugins", "plugin_code"}  # once per run, whatever the domains


class GpuSampler(threading.Thread):
    """`nvidia-smi` every second: (time, utilisation %) pairs; nothing without a GPU."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu",
                                      "--format=csv,noheader,nounits"], capture_output=True,
                                     text=True, timeout=10, check=True).stdout
                self.samples.append((time.perf_counter(), float(out.split()[0])))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                return
            self.stop.wait(1.0)

    def share(self, start: float, end: float) -> tuple[float, float] | None:
        """Mean utilisation and the share of busy samples between two moments."""
        inside = [u for t, u in self.samples if start <= t < end]
        if not inside:
            return None
        return sum(inside) / len(inside), sum(u > 0 for u in inside) / len(inside)


def gpus() -> int:
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in out.splitlines())


def steps_per_second(work: Path, params: dict) -> dict[str, float]:
    """Optimiser steps per compute second of each kind of fit, from the stages' reports."""
    rates: dict[str, list[tuple[float, float]]] = {}
    for path in work.glob("models/*/pretrain.json"):
        rep = json.loads(path.read_text())
        if rep.get("compute/pretrain_s"):
            rates.setdefault("pretrain", []).append(
                (rep["steps"] * rep.get("members", 1), rep["compute/pretrain_s"]))
    for path in work.glob("reports/generators/*.json"):
        rep = json.loads(path.read_text())
        if rep.get("compute/train_s"):
            rates.setdefault("generator", []).append((rep["steps"], rep["compute/train_s"]))
    judge = params["profiles"][params["profile"]]["annotator"]["judge"]["max_steps"]
    for path in work.glob("reports/annotators/*.json"):
        rep = json.loads(path.read_text())
        rates.setdefault("annotator", []).append((judge, rep["compute/judge_s"]))
    steps = params["profiles"][params["profile"]]["train"]["max_steps"]
    for path in work.glob("results/*/*/seed*/metrics.json"):
        rep = json.loads(path.read_text())
        if rep.get("compute/train_s"):
            rates.setdefault("train", []).append((steps, rep["compute/train_s"]))
    return {kind: sum(s for s, _ in pairs) / sum(t for _, t in pairs)
            for kind, pairs in rates.items()}


def throughput_curve(work: Path, domain: str, counts: list[int], sampler: GpuSampler) -> None:
    """Refit every cell of ``train@domain`` at each worker count (its stamps removed, so no
    cell is skipped): wall, cells per minute and the GPU's busy share."""
    params_file = work / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    stamps = sorted(work.glob(f"results/{domain}/**/train.stamp"))
    print("-" * 75)
    print(f"throughput curve: train@{domain}, {len(stamps)} cells refitted per count")
    print(f"{'workers':>8s} {'wall':>8s} {'cells/min':>10s} {'GPU mean':>9s} {'busy':>6s}")
    for count in counts:
        for stamp in stamps:
            stamp.unlink(missing_ok=True)
        params["grid"]["workers"] = count
        params_file.write_text(yaml.safe_dump(params, sort_keys=False))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "benchmark.stages.train", domain],
                              cwd=work, env=ENV, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            sys.exit(f"train@{domain} with {count} workers failed in {work}:\n"
                     + done.stderr[-3000:])
        busy = sampler.share(start, start + wall)
        gpu = f"{busy[0]:8.0f}% {busy[1]:5.0%}" if busy else f"{'-':>9s} {'-':>6s}"
        print(f"{count:8d} {wall:7.1f}s {len(stamps) / wall * 60:10.1f} {gpu}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="default: paper with a GPU, quick without")
    parser.add_argument("--accelerator", help="instead of the profile's hardware.accelerator")
    parser.add_argument("--domains", nargs="+", help="only these domains (then extrapolated)")
    parser.add_argument("--workers", type=int, help="grid.workers: cells side by side")
    parser.add_argument("--curve", type=int, nargs="+", metavar="WORKERS",
                        help="then refit the first domain's cells at each of these counts")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args()
    found = gpus()
    profile = args.profile or ("paper" if found else "quick")
    print(f"{found} GPU(s) visible; profile {profile}" + ("" if found else
          " (no GPU here: the CPU's figures, the GPU's still to be measured)"))
    work = fresh_clone()
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["profile"] = profile
    every = list(params["grid"]["domains"])
    if args.domains:
        params["grid"]["domains"] = args.domains
    if args.workers:
        params["grid"]["workers"] = args.workers
    if args.accelerator:
        params["profiles"][profile].setdefault("hardware", {})["accelerator"] = args.accelerator
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sampler = GpuSampler()
    sampler.start()
    start = time.perf_counter()
    stages, total = timed_repro(work)
    compute = compute_seconds(work)
    rates = steps_per_second(work, params)
    print(f"{'stage':40s} {'wall':>8s} {'GPU mean':>9s} {'busy':>6s}")
    moment, kinds = start, {}
    for name, seconds in stages:
        busy = sampler.share(moment, moment + seconds)
        moment += seconds
        gpu = f"{busy[0]:8.0f}% {busy[1]:5.0%}" if busy else f"{'-':>9s} {'-':>6s}"
        print(f"{name:40s} {seconds:7.1f}s {gpu}")
        kinds[name.split("@")[0]] = kinds.get(name.split("@")[0], 0.0) + seconds
    print("-" * 75)
    print(f"{'per stage kind':24s} {'wall':>8s} {'compute':>9s} {'steps/s':>9s}")
    for kind, seconds in kinds.items():
        rate = f"{rates[kind]:9.1f}" if kind in rates else f"{'-':>9s}"
        print(f"{kind:24s} {seconds:7.1f}s {compute.get(kind, 0.0):8.1f}s {rate}")
    busy = sampler.share(start, start + total)
    print("-" * 75)
    print(f"total dvc repro ({profile}, domains {params['grid']['domains']}): {total:.1f} s"
          + (f", GPU mean {busy[0]:.0f}%, busy in {busy[1]:.0%} of samples" if busy else ""))
    scale = len(every) / len(params["grid"]["domains"])
    whole = sum(s * (1 if k in PER_RUN else scale) for k, s in kinds.items())
    print(f"extrapolated to the whole profile ({len(every)} domains): {whole / 60:.1f} min")
    if args.curve:
        throughput_curve(work, params["grid"]["domains"][0], args.curve, sampler)
    sampler.stop.set()
    finish(work, args.keep)


if __name__ == "__main__":
    main()
