"""``basic_filter``: ``scale_only`` plus DataComp-style basic quality checks on what joins
without a person: cleanlab's ``Datalab`` drops pre-labels it flags as label issues (against
out-of-fold probabilities of a probe on D and the joiners), near-duplicates and outliers.
"""

from __future__ import annotations

import numpy as np

from benchmark.method import METHODS, Candidates, RoundView
from methods.scale_only import ScaleOnly


@METHODS.register("basic_filter")
class BasicFilter(ScaleOnly):
    """``scale_only``'s verification and confidence threshold, then Datalab on D plus the
    confident unverified candidates: a candidate flagged as a ``label`` issue (its pre-label
    disagrees with out-of-fold probabilities), a near-duplicate of an earlier item
    (``dedup_quantile``: Datalab's threshold, a fraction of the median nearest-neighbour
    distance) or an ``outlier`` does not join.
    """

    name = "basic_filter"

    def __init__(self, real: int = 600, synthetic: int = 200, members: int = 5,
                 pseudo_label: bool = True, pseudo_precision: float = 0.95,
                 dedup_quantile: float = 0.13) -> None:
        super().__init__(real, synthetic, members, pseudo_label, pseudo_precision)
        self.dedup_quantile = dedup_quantile

    def unverified(self, rows: np.ndarray, cands: Candidates, view: RoundView) -> np.ndarray:
        from cleanlab import Datalab

        from benchmark.evaluation.metrics.diversity import out_of_fold_proba

        found = self.committee_
        labels = np.concatenate([view.dataset.y, found.prelabel[rows]])
        features = np.concatenate([found.z_dataset, found.z[rows]]).astype(np.float64)
        present, index = np.unique(labels, return_inverse=True)
        if len(rows) == 0 or len(present) < 2 or np.bincount(index).min() < 2:
            return rows
        proba = np.zeros((len(labels), view.n_classes))
        proba[:, present] = out_of_fold_proba(features, index, view.seed, 5)
        lab = Datalab({"label": labels}, label_name="label", verbosity=0)
        lab.find_issues(features=features, pred_probs=proba, issue_types={
            "label": {}, "near_duplicate": {"threshold": self.dedup_quantile}, "outlier": {}})
        issues = lab.get_issues()
        own = slice(len(view.dataset), None)  # the joiners' rows
        flags = {"label_issue": issues["is_label_issue"].to_numpy(bool)[own],
                 "near_duplicate": _later_duplicates(issues, lab)[own],
                 "outlier": issues["is_outlier_issue"].to_numpy(bool)[own]}
        view.log.update({f"filter/{k}": float(v.mean()) for k, v in flags.items()})
        return rows[~(flags["label_issue"] | flags["near_duplicate"] | flags["outlier"])]


def _later_duplicates(issues, lab) -> np.ndarray:  # noqa: ANN001 (pandas / cleanlab objects)
    """Near-duplicate flags keeping one member of each duplicate set (the first)."""
    flagged = issues["is_near_duplicate_issue"].to_numpy(bool)
    sets = lab.get_info("near_duplicate").get("near_duplicate_sets", [])
    drop = np.zeros(len(flagged), bool)
    for i in np.flatnonzero(flagged):
        if any(j < i for j in np.asarray(sets[i], dtype=np.int64)):
            drop[i] = True
    return drop
