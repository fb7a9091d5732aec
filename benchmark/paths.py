"""Every output path of the pipeline, in one place (``dvc.yaml`` spells the same templates and a
test keeps the two in step). Paths are relative to the repository root, where stages run."""

from __future__ import annotations

from pathlib import Path

from benchmark.data import TRANSFER_FOLDER

DATA = Path("data")
RUNS = Path("runs")
RESULTS = Path("results")
REPORTS = Path("reports")
MODELS = Path("models")
EMBEDDINGS = Path("embeddings")
PATTERN_REPORTS = REPORTS / "patterns"
GENERATORS = Path("generators")  # one out of the ``generator`` stage, every domain's in it
GENERATOR_REPORTS = REPORTS / "generators"
GENERATOR_SAMPLES = REPORTS / "generator_samples"  # PNGs apart from the JSON: a DVC plots folder
ANNOTATOR_REPORTS = REPORTS / "annotators"
FIGURES = REPORTS / "figures"  # the report's charts (DVC plots)
METRIC_TABLES = REPORTS / "metrics"  # per domain, method -> headline means (DVC metrics)
WANDB_DIR = Path(".")  # W&B writes its offline runs under ./wandb/
PLUGINS = Path("plugins")  # digests of the registered plugins' code (``plugins`` stage)
ANSWERS = Path("answers")  # per domain, every answer people gave (annotation.store)
DRAWS = Path("draws")  # per seed, a draw of a domain's data of its own (replicates.redraw)
METHODS_CODE = PLUGINS / "methods.json"  # the grid's methods (a ``construct`` dep)
MODALITIES_CODE = PLUGINS / "modalities.json"  # every modality (a dep where modalities.py is)
FOLDERS_CODE = PLUGINS / "code"  # per folder of plugin code, its digest (``plugin_code``)


def folder_code(name: str) -> Path:
    """The digest of the Python files of ``plugins.code.<name>`` (a ``plugins`` dep)."""
    return FOLDERS_CODE / f"{name}.json"


def domain_code(domain: str) -> Path:
    """The digest of the code of a domain's registered source (a ``prepare`` dep)."""
    return PLUGINS / "domains" / f"{domain}.json"


def domain_dir(domain: str) -> Path:
    """Prepared splits of one domain (``prepare`` stage)."""
    return DATA / domain


def transfer_dir(domain: str) -> Path:
    """The other site's seed + pool a transfer domain's encoder and generator learn on
    (``domains.<d>.transfer_from``; inside the domain's data, so one DVC output holds both)."""
    return domain_dir(domain) / TRANSFER_FOLDER


def prepare_summary(domain: str) -> Path:
    """Seconds the ``prepare`` stage took (DVC metrics; outside the data folder)."""
    return REPORTS / "prepare" / f"{domain}.json"


def encoder_dir(domain: str) -> Path:
    """The domain's encoder, a ``save_pretrained`` folder (``pretrain`` stage)."""
    return MODELS / domain / "encoder"


def pretrain_summary(domain: str) -> Path:
    """Pretraining losses and seconds (DVC metrics)."""
    return MODELS / domain / "pretrain.json"


def embeddings_dir(domain: str) -> Path:
    """Cached embeddings of every split, shared by every method (``pretrain`` stage)."""
    return EMBEDDINGS / domain


def embeddings_file(domain: str, encoder: str) -> Path:
    """One ``.npz`` per encoder (``PRETRAINED`` or ``RANDOM_INIT``), one array per split."""
    return embeddings_dir(domain) / f"{encoder}.npz"


def pattern_report(domain: str) -> Path:
    """Clusters, deficit, weakness and discovery scores of one domain (DVC metrics)."""
    return PATTERN_REPORTS / f"{domain}.json"


def pattern_map(domain: str) -> Path:
    """The 2-D map of the clusters coloured by deficit (DVC plot)."""
    return PATTERN_REPORTS / f"{domain}.png"


def generator_dir(domain: str) -> Path:
    """The domain's conditional diffusion generator (``save_pretrained`` folders, ``generator``)."""
    return GENERATORS / domain


def generator_report(domain: str) -> Path:
    """Targeting accuracy, PRDC, Frechet distance and TSTR of the generator (DVC metrics)."""
    return GENERATOR_REPORTS / f"{domain}.json"


def generator_plot(domain: str) -> Path:
    """Real and generated samples side by side (DVC plot)."""
    return GENERATOR_SAMPLES / f"{domain}.png"


def annotator_dir(domain: str) -> Path:
    """The simulated annotator's judge: weights and card (``annotator`` stage)."""
    return MODELS / domain / "annotator"


def annotator_report(domain: str) -> Path:
    """The judge's accuracy and realism check on real held-out splits (DVC metrics)."""
    return ANNOTATOR_REPORTS / f"{domain}.json"


def draws_dir(domain: str) -> Path:
    """Every seed's own draw of a domain's data (``draws`` stage; empty without redraws)."""
    return DRAWS / domain


def draw_dir(domain: str, seed: int) -> Path:
    """Seed ``seed``'s draw: its splits (a domain folder) and their embeddings."""
    return draws_dir(domain) / f"seed{seed}"


def cell_data_dir(domain: str, seed: int, redraw: bool) -> Path:
    """The data a seed's cells construct and train on: its own draw, or the domain's."""
    return draw_dir(domain, seed) if redraw else domain_dir(domain)


def cell_embeddings(domain: str, seed: int, redraw: bool) -> Path | None:
    """The pretrained embeddings of a seed's own draw (None: the domain's, in its file)."""
    return draw_dir(domain, seed) / DRAW_EMBEDDINGS if redraw else None


def cell_name(domain: str, method: str, seed: int) -> str:
    return f"{domain}-{method}-seed{seed}"


def run_dir(domain: str, method: str, seed: int) -> Path:
    """Constructed dataset, ledger and resume state of one cell (``construct@domain``)."""
    return RUNS / domain / method / f"seed{seed}"


def result_dir(domain: str, method: str, seed: int) -> Path:
    """Model and metrics files of one cell (``train@domain``; DVC metrics)."""
    return RESULTS / domain / method / f"seed{seed}"


def answer_store(domain: str) -> Path:
    """Every answer people gave for the domain's items, across runs (``annotation.store``):
    outside every DVC output and git-ignored, so no rerun or checkout removes it.
    """
    return ANSWERS / f"{domain}.jsonl"


def rounds_plot(domain: str, method: str, seed: int) -> Path:
    """Per-round metrics of one construction (DVC plot, x = round)."""
    return REPORTS / "rounds" / domain / f"{method}-seed{seed}.csv"


DATASET = "dataset.npz"
LEDGER = "ledger.jsonl"
STATE = "state.npz"
CONSTRUCTION = "construction.json"
QUEUE = "queue.npz"  # requests waiting for people (annotator.name: human)
TIMING = "timing.json"  # construct seconds, kept out of construction.json (a train dep)
MODEL = "model.ckpt"
METRICS = "metrics.json"
GROUPS = "groups.csv"
CURVE = "curve.csv"  # label efficiency: accuracy of D after each round (train.curve)
PRETRAINED = "pretrained"
DRAW_EMBEDDINGS = "embeddings.npz"  # in a draw's folder: its seed, pool and val, pretrained
RANDOM_INIT = "random_init"
