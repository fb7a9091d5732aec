"""``basic_filter``: scale plus DataComp-style basic quality checks before people see anything —
drop low-confidence, near-duplicate and outlier items (cleanlab's ``Datalab`` on the encoder's
embeddings); the human budget verifies a random subset of the survivors, the other survivors
join with their pre-labels.
"""

from __future__ import annotations

import numpy as np

from baselines.scale_only import ScaleOnly
from benchmark.assist import committee
from benchmark.method import METHODS, Candidates, RoundView


@METHODS.register("basic_filter")
class BasicFilter(ScaleOnly):
    """``min_confidence``: drop items whose committee confidence is lower;
    ``dedup_quantile``: Datalab's near-duplicate threshold (a fraction of the median
    nearest-neighbour distance); Datalab's outlier flag drops outliers.
    """

    name = "basic_filter"

    def __init__(self, real: int = 600, synthetic: int = 200, members: int = 5,
                 pseudo_label: bool = True, min_confidence: float = 0.5,
                 dedup_quantile: float = 0.13) -> None:
        super().__init__(real, synthetic, members, pseudo_label)
        self.min_confidence, self.dedup_quantile = min_confidence, dedup_quantile

    def candidates_for_people(self, cands: Candidates, view: RoundView) -> np.ndarray:
        from cleanlab import Datalab

        found = committee(view, cands, self.members)
        confident = found.mean.max(axis=1) >= self.min_confidence
        lab = Datalab({"label": found.prelabel}, label_name="label", verbosity=0)
        lab.find_issues(features=found.z.astype(np.float64), pred_probs=found.mean,
                        issue_types={"near_duplicate": {"threshold": self.dedup_quantile},
                                     "outlier": {}})
        issues = lab.get_issues()
        duplicate = _later_duplicates(issues, lab)
        outlier = issues["is_outlier_issue"].to_numpy(bool)
        view.log.update({"filter/low_confidence": float((~confident).mean()),
                        "filter/near_duplicate": float(duplicate.mean()),
                        "filter/outlier": float(outlier.mean())})
        return np.flatnonzero(confident & ~duplicate & ~outlier)


def _later_duplicates(issues, lab) -> np.ndarray:  # noqa: ANN001 (pandas / cleanlab objects)
    """Near-duplicate flags keeping one member of each duplicate set (the first)."""
    flagged = issues["is_near_duplicate_issue"].to_numpy(bool)
    sets = lab.get_info("near_duplicate").get("near_duplicate_sets", [])
    drop = np.zeros(len(flagged), bool)
    for i in np.flatnonzero(flagged):
        if any(j < i for j in np.asarray(sets[i], dtype=np.int64)):
            drop[i] = True
    return drop
