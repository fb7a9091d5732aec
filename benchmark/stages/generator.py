"""``generator``: train every domain's conditional diffusion generator (one per domain, shared
by every method) and measure it against held-out real data.

One process pays the diffusers / Lightning import once, and ``grid.workers`` forked workers
train domains at once, one thread each: two one-thread fits keep both cores busy, where one
two-thread fit ran at most 1.45x faster (the 16x16 image UNet; the sequence UNet not at all).
Two stamps per domain, split by what each setting invalidates: ``generator.stamp`` (its data,
embeddings and encoder files, the training settings of ``generator``, ``patterns``, this
stage's code) with the digest of the weights, and ``measure.stamp`` (that, the sampling
settings ``sampler`` / ``sample_steps`` / ``guidance`` / ``eval_samples`` and the judge) with
the digest of the report and plot. A domain whose two stamps match is kept; one whose weights
match but whose sampling settings or judge changed is only measured again (seconds); so a
guidance sweep trains nothing, a change to one domain retrains that domain's generator only,
and a damaged output is rebuilt rather than trusted. ``--domain D`` runs one domain.

Training data: seed (labelled) + pool (label = null token); the condition is (class, cluster), with
clusters recomputed deterministically by ``benchmark.upstream.patterns.discover`` on the pretrained
embeddings with the ``patterns`` params, i.e. the same clustering as ``patterns@domain``. A transfer
domain's generator learns on the other site's seed + pool (``transfer_from``), its items assigned to
the domain's own clusters: it aims at this domain's patterns from there. The judge that labels
targeted samples (and the real items behind chance) is the simulated annotator's
(``annotator@domain``: trained on the ``reference`` split, unseen by the generator), the same one
that reviews synthetic items in ``construct``; ``evaluate`` takes any ``judge(x_raw, z) -> labels``.
Outputs per domain: the generator (``save_pretrained`` folders, swapped in whole), a JSON report
(DVC metrics) and a PNG of samples (DVC plot), then the stamp.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark import hardware
from benchmark.closure import code_digest
from benchmark.config import Params, as_dict, load_params
from benchmark.data import DomainData, load_domain, load_learning_data
from benchmark.io import (
    DataFormatError,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_npz,
    replace_dir,
)
from benchmark.modalities import code_module, modality
from benchmark.paths import (
    PRETRAINED,
    annotator_dir,
    domain_dir,
    embeddings_dir,
    embeddings_file,
    encoder_dir,
    generator_dir,
    generator_plot,
    generator_report,
)
from benchmark.stages import (
    digest,
    domains_args,
    files_digest,
    grid_domains,
    run,
    run_cells,
    up_to_date,
    write_stamp,
)
from benchmark.upstream import patterns as pt

if TYPE_CHECKING:
    from benchmark.upstream.generators.measure import Judge

_SPLITS = ("seed", "pool", "val", "reference")
STAMP = "generator.stamp"  # the training inputs' digest and the weights', written last
MEASURED = "measure.stamp"  # the measurement's inputs' digest and the report's, written last
TRAINING = "training.json"  # steps and losses of the fit, which the report repeats
_JOB: dict[str, Any] = {}  # what every domain of this stage shares; forked workers inherit it


def main(argv: Sequence[str] | None = None) -> None:
    args = domains_args(__doc__, argv)
    # heavy (transformers, diffusers, Lightning): imported after argument checks, before any
    # clock starts and before the workers fork, so each pays nothing for them
    from benchmark.upstream import encoders, generators  # noqa: F401
    from benchmark.upstream.generators.train import fit  # noqa: F401

    params = load_params()
    hardware.configure(params.hardware)  # before anything is written
    domains = grid_domains(params.grid, args.domain)
    kind = {d: load_domain(domain_dir(d), splits=()).modality for d in domains}  # the cards
    code = {m: code_digest(["benchmark.stages.generator", code_module(m)])
            for m in set(kind.values())}
    stamps = {d: stamp(params, d, code[kind[d]]) for d in domains}
    todo = {d: state(d, *stamps[d]) for d in domains}
    for domain in sorted(d for d, how in todo.items() if how == "kept"):
        print(f"generator {domain}: inputs and outputs unchanged since it was trained, kept",
              flush=True)
    _JOB.update(params=params, stamps=stamps, todo=todo)
    run_cells(train_domain, [(d,) for d in sorted((d for d, how in todo.items() if how != "kept"),
                                                  key=cost, reverse=True)],
              params.grid.cells_at_once())


def stamp(params: Params, domain: str, code: str) -> tuple[str, str]:
    """What a domain's weights depend on, and what its report depends on beyond them."""
    inputs = [domain_dir(domain), embeddings_dir(domain), encoder_dir(domain)]
    trained = digest({"generator": params.generator.training(), "code": code,
                      "patterns": as_dict(params.patterns),
                      "inputs": files_digest([p for p in inputs if p.exists()])})
    sampling = {k: getattr(params.generator, k) for k in params.generator.SAMPLING}
    judge = files_digest([annotator_dir(domain)] if annotator_dir(domain).exists() else [])
    return trained, digest({"trained": trained, "sampling": sampling, "judge": judge})


def state(domain: str, trained: str, measured: str) -> str:
    """``kept`` (weights and report current and intact), ``measure`` (weights current, the
    report not: a sampling setting or the judge changed, or it was damaged) or ``train``."""
    folder = generator_dir(domain)
    if not up_to_date(folder / STAMP, trained, folder):
        return "train"
    stamp_file = folder / MEASURED
    if stamp_file.is_file() and stamp_file.read_text().split("\n") == [measured,
                                                                      _measured(domain)]:
        return "kept"
    return "measure"


def _measured(domain: str) -> str:
    """A digest of what the measurement wrote, its seconds aside (they differ on every run,
    and this stamp sits in the folder ``construct`` depends on); empty if a file is gone or
    damaged."""
    try:
        report = read_json(generator_report(domain))
        plot = generator_plot(domain).read_bytes()
    except (FileNotFoundError, DataFormatError):
        return ""
    return digest({"report": {k: v for k, v in report.items() if not k.startswith("compute/")},
                   "plot": hashlib.sha256(plot).hexdigest()})


def cost(domain: str) -> float:
    """Training steps x input size: the longest fit starts first, so the workers end together."""
    card = read_json(domain_dir(domain) / "domain.json", f"dvc repro prepare@{domain}")
    steps = _JOB["params"].generator.steps.of(card["modality"])
    return float(steps * np.prod(card["input_shape"]))


def train_domain(domain: str) -> None:
    """Fit and save one domain's generator unless its weights are current, then measure and
    plot it; each stamp goes last."""
    from benchmark.upstream import generators
    from benchmark.upstream.generators.train import fit

    params = _JOB["params"]
    cfg = params.generator
    trained_stamp, measured_stamp = _JOB["stamps"][domain]
    folder = generator_dir(domain)
    (folder / MEASURED).unlink(missing_ok=True)  # a kill from here on measures again
    data = load_domain(domain_dir(domain), splits=_SPLITS)
    z = read_npz(embeddings_file(domain, PRETRAINED), _SPLITS, f"dvc repro pretrain@{domain}")
    found = pt.discover_with(params.patterns, z["seed"], z["pool"])
    embed = embedder(domain, data)
    if _JOB["todo"][domain] == "train":
        (folder / STAMP).unlink(missing_ok=True)  # a kill from here on retrains
        start = time.perf_counter()
        learn = load_learning_data(domain_dir(domain))
        x = np.concatenate([learn["seed"].x, learn["pool"].x]).astype(np.float32)
        label = np.concatenate([learn["seed"].y, np.full(len(learn["pool"]), data.n_classes)])
        own = "transfer_from" not in data.info  # the cached embeddings are of this domain's
        cluster = (np.concatenate([found.assign(z["seed"]), found.assign(z["pool"])]) if own
                   else found.assign(embed(x)))
        gen = generators.build(data.modality, x, data.n_classes, found.k, cfg.channels,
                               cfg.width, cfg.timesteps, cfg.prediction, cfg.schedule, cfg.seed)
        losses = fit(gen, x, label, cluster, cfg.steps.of(data.modality), cfg.batch_size,
                     cfg.lr, cfg.drop, cfg.seed, name=f"generator {domain}",
                     snr_gamma=cfg.snr_gamma, ema=cfg.ema)
        head = max(1, len(losses) // 10)
        fitted = {"steps": len(losses), "loss/first": float(np.mean(losses[:head])),
                  "loss/last": float(np.mean(losses[-head:]))}  # no seconds: same fit, same bytes
        train_s = round(time.perf_counter() - start, 3)

        def save(dest: Any) -> None:
            gen.save(dest)
            atomic_write_json(dest / TRAINING, fitted)
        replace_dir(folder, save)
        write_stamp(folder / STAMP, trained_stamp, folder)
    else:
        gen, train_s = generators.load(folder), 0.0  # the weights are kept: no training spent
    fitted = read_json(folder / TRAINING, "dvc repro generator")
    start = time.perf_counter()
    judge = annotator_judge(domain, embed, z)
    from benchmark.upstream.generators.evaluate import evaluate

    report, samples = evaluate(gen, data, z, found, embed, cfg, judge)
    report.update({**fitted, "compute/train_s": train_s,
                   "compute/measure_s": round(time.perf_counter() - start, 3)})
    atomic_write_json(generator_report(domain), report)
    plot(data, samples, domain)
    from benchmark.tracking import track_domain_report

    config = {"domain": domain, "profile": params.profile, "generator": as_dict(cfg)}
    track_domain_report(params.tracking, params.grid.experiment, params.profile, domain,
                        "generator", config, report, generator_plot(domain))
    atomic_write_text(folder / MEASURED, f"{measured_stamp}\n{_measured(domain)}")
    how = (f"trained ({fitted['steps']} steps) and measured"
           if _JOB["todo"][domain] == "train" else "weights current, measured again")
    print(f"generator {domain}: {how}", flush=True)


def embedder(domain: str, data: DomainData) -> Callable[[np.ndarray], np.ndarray]:
    """The pretrained encoder as a numpy function (the space every measure works in)."""
    from benchmark.upstream import encoders

    model = encoders.load(data.modality, encoder_dir(domain), data.input_shape)
    return lambda x: encoders.embed(data.modality, model, np.asarray(x, np.float32))


def annotator_judge(domain: str, embed: Callable[[np.ndarray], np.ndarray],
                    z: dict[str, np.ndarray]) -> Judge:
    """The simulated annotator's judge (``annotator@domain``): the same stand-in for people
    that reviews synthetic items in ``construct`` scores targeting here.
    """
    from benchmark.annotation import judge

    trained = judge.load(annotator_dir(domain), embed, z["reference"])
    return lambda x, _z: trained.proba(np.asarray(x, np.float32)).argmax(axis=1)


def plot(data: DomainData, samples: dict[str, np.ndarray], domain: str) -> None:
    """Real vs generated items: image grids, sequence trajectories or the first two features."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    real, fake = data["val"].x[:8], samples["targeted"][:8]
    fig, axes = plt.subplots(2, 8, figsize=(16, 4.5), squeeze=False)
    for row, (name, items) in enumerate((("real val", real), ("generated", fake))):
        for col, item in enumerate(items):
            ax = axes[row, col]
            modality(data.modality).draw(ax, item)
            ax.set_title(f"{name}" + (f" y={samples['labels'][col]}" if row else ""), fontsize=7)
    fig.suptitle(f"{domain}: real (top) and class/cluster-targeted samples (bottom)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    atomic_write(generator_plot(domain), lambda fh: fh.write(buffer.getvalue()))


if __name__ == "__main__":
    run(main)
