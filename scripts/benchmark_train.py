"""Time the fixed downstream recipe (Lightning, as ``train@domain`` runs it) against a plain
PyTorch loop doing the same work: same network, batches sampled with replacement, AdamW + cosine
schedule, augmentation, validation every ``val_every`` steps with the best-on-val weights kept, and
scoring of every evaluation split with the harness's metrics
(``benchmark.evaluation.evaluate.score``: the same scoring on both sides, so the ratio is what
Lightning's loop costs).

    python scripts/benchmark_train.py WORKSPACE [--domain D] [--method M] [--repeats 3]

WORKSPACE is a repository where ``dvc repro`` has run (e.g. ``benchmark_pipeline.py --keep``).
Both are timed in one process after the imports, alternating, median of ``--repeats``; the
Lightning import, paid once per ``train@domain`` process, is printed apart with its share per cell.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def plain_fit_and_score(dataset, data, params, seed: int) -> dict[str, float]:
    """The recipe without Lightning: the same steps, optimiser, schedule and selection."""
    import torch

    from benchmark.evaluation.evaluate import score
    from benchmark.modalities import modality

    torch.manual_seed(seed)
    torch.set_num_threads(params.threads)
    kind = modality(data.modality)
    net = kind.backbone(dataset.x.shape[1:], data.n_classes, params.width)
    opt = torch.optim.AdamW(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=params.max_steps)
    x, y = torch.from_numpy(dataset.x), torch.from_numpy(dataset.y)
    gen = torch.Generator().manual_seed(seed)
    index = torch.randint(len(x), (params.max_steps, params.batch_size), generator=gen)
    best, best_state = -1.0, None
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(params.max_steps):
        net.train()
        xb = x[index[step]]
        xb = kind.augment(xb) if params.augment else xb
        loss = loss_fn(net(xb), y[index[step]])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % params.val_every == 0:
            acc = _accuracy(net, data["val"].x, data["val"].y)
            if acc > best:
                best, best_state = acc, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    metrics, _ = score(lambda x: _predict(net, x), data)  # the harness's own scoring
    return {s: metrics[f"{s}/acc"] for s in ("val", "test_id", "test_shift")}


def _predict(net, x: np.ndarray) -> np.ndarray:
    import torch

    net.eval()
    with torch.no_grad():
        return torch.cat([net(torch.from_numpy(x[i:i + 1024])).argmax(-1)
                          for i in range(0, len(x), 1024)]).numpy()


def _accuracy(net, x: np.ndarray, y: np.ndarray) -> float:
    return float((_predict(net, x) == y).mean())


def harness_fit_and_score(dataset, data, params, seed: int, folder: Path) -> dict[str, float]:
    from benchmark.evaluation import downstream
    from benchmark.evaluation.evaluate import score

    model = downstream.fit(dataset, data["val"], data.modality, data.n_classes, params, seed,
                           folder / "model.ckpt")
    metrics, _ = score(lambda x: downstream.predict(model, x), data)
    return {s: metrics[f"{s}/acc"] for s in ("val", "test_id", "test_shift")}


def import_seconds() -> float:
    """Wall seconds of ``import lightning.pytorch`` in a fresh process (median of 3)."""
    code = "import time; t = time.perf_counter(); import lightning.pytorch; " \
           "print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--domain", default="biomedical")
    parser.add_argument("--method", default="random")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.chdir(args.workspace)
    sys.path.insert(0, str(args.workspace))
    import lightning.pytorch  # noqa: F401  (paid once per train@domain process)

    from benchmark.config import load_params
    from benchmark.data import load_domain, load_split
    from benchmark.paths import DATASET, domain_dir, run_dir

    params = load_params()
    data = load_domain(domain_dir(args.domain))
    dataset = load_split(run_dir(args.domain, args.method, 0) / DATASET)
    times: dict[str, list[float]] = {"harness": [], "plain": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            start = time.perf_counter()
            harness = harness_fit_and_score(dataset, data, params.train, 0, Path(tmp))
            times["harness"].append(time.perf_counter() - start)
            start = time.perf_counter()
            plain = plain_fit_and_score(dataset, data, params.train, 0)
            times["plain"].append(time.perf_counter() - start)
    h, p = statistics.median(times["harness"]), statistics.median(times["plain"])
    cells = len(params.grid.methods) * len(params.grid.seeds)
    imp = import_seconds()
    print(f"cell {args.domain}/{args.method}: {params.train.max_steps} steps, |D| {len(dataset)}")
    print(f"harness (Lightning) fit + score   {h:6.2f} s   accuracies {harness}")
    print(f"plain PyTorch fit + score         {p:6.2f} s   accuracies {plain}")
    print(f"ratio harness / plain             {h / p:6.2f}")
    print(f"import lightning.pytorch          {imp:6.2f} s, once per domain = {imp / cells:.2f} s "
          f"per cell ({cells} cells); ratio with it {(h + imp / cells) / p:.2f}")


if __name__ == "__main__":
    main()
