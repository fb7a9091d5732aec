"""Every output path of the pipeline, in one place (``dvc.yaml`` spells the same templates and a
test keeps the two in step). Paths are relative to the repository root, where stages run."""

from __future__ import annotations

from pathlib import Path

DATA = Path("data")
RUNS = Path("runs")
RESULTS = Path("results")
REPORTS = Path("reports")
WANDB_DIR = Path(".")  # W&B writes its offline runs under ./wandb/


def domain_dir(domain: str) -> Path:
    """Prepared splits of one domain (``prepare`` stage)."""
    return DATA / domain


def cell_name(domain: str, method: str, seed: int) -> str:
    return f"{domain}-{method}-seed{seed}"


def run_dir(domain: str, method: str, seed: int) -> Path:
    """Constructed dataset, ledger, resume state and model of one cell."""
    return RUNS / domain / method / f"seed{seed}"


def result_dir(domain: str, method: str, seed: int) -> Path:
    """Metrics files of one cell (DVC metrics)."""
    return RESULTS / domain / method / f"seed{seed}"


DATASET = "dataset.npz"
LEDGER = "ledger.jsonl"
STATE = "state.npz"
CONSTRUCTION = "construction.json"
MODEL = "model.ckpt"
METRICS = "metrics.json"
GROUPS = "groups.csv"
