"""Scoring a trained model: task, robustness and fairness metrics on every held-out split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmark.data import DomainData
from benchmark.evaluation.metrics import evaluate_split, group_table, shift_gap

EVAL_SPLITS = ("val", "test_id", "test_shift")


def score(predict: Callable[..., np.ndarray], data: DomainData, grouped: bool = False
          ) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics keyed ``{split}/{metric}`` plus the ID-to-shift gaps, and per-group rows.
    ``predict(x)``, or ``predict(x, group)`` when ``grouped`` (group-aware post-processing).
    """
    metrics: dict[str, float] = {}
    groups: list[dict[str, Any]] = []
    for split in EVAL_SPLITS:
        part = data[split]
        pred = predict(part.x, part.group) if grouped else predict(part.x)
        metrics.update(evaluate_split(split, part.y, pred, part.group, data.n_classes,
                                      data.group_names))
        groups.extend(group_table(split, part.y, pred, part.group, data.group_names))
    for metric in ("acc", "f1_macro", "acc_wg"):
        metrics[f"shift_gap/{metric}"] = shift_gap(metrics, metric)
    return metrics, groups
