"""Equal tuning: every method gets the same small grid of its own options, chosen on ``val``.

``tuning.grids`` in ``params.yaml`` declares, per grid entry, a few values of a few of its own
options. With ``grid.tune: true`` each entry that has a grid runs once per setting, as the
variant ``<entry>.t<i>`` (the i-th setting of the product of the option lists, in the order they
are written), and the report keeps, per domain, the variant with the best mean
``tuning.metric`` over seeds — a ``val`` metric, never a test split — under the entry's own
name, and says which setting it used. ``report.baseline: strongest`` then compares every
method under study with the baseline that scores best on the same ``val`` metric, per domain.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas only where the report selects: config imports this module
    import pandas as pd

VARIANT = re.compile(r"^(?P<entry>.+)\.t(?P<index>\d+)$")


def settings(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The settings of one entry's grid: the product of its option lists, in written order."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(grid[k] for k in keys))]


def expand(entries: Sequence[str], methods: Mapping[str, Any],
           grids: Mapping[str, Mapping[str, Sequence[Any]]]) -> tuple[list[str], dict[str, Any]]:
    """The grid's entries with each tuned one replaced by its variants, and the ``methods``
    section with an entry per variant: the tuned entry's own options with the setting's over
    them, running the same registered method.
    """
    out, section = [], dict(methods)
    for name in entries:
        if name not in grids:
            out.append(name)
            continue
        own = dict(methods.get(name) or {})
        plugin = own.pop("use", name)
        for index, setting in enumerate(settings(grids[name])):
            variant = f"{name}.t{index}"
            section[variant] = {**own, "use": plugin, **setting}
            out.append(variant)
    return out, section


def entry_of(name: str) -> str:
    """The grid entry a variant tunes (the name itself for an entry that is not a variant)."""
    match = VARIANT.match(name)
    return match["entry"] if match else name


def setting_of(name: str, grids: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict[str, Any]:
    """The options a variant sets (empty for an entry that is not a variant)."""
    match = VARIANT.match(name)
    if not match or match["entry"] not in grids:
        return {}
    return settings(grids[match["entry"]])[int(match["index"])]


def select(cells: pd.DataFrame, metric: str,
           grids: Mapping[str, Mapping[str, Sequence[Any]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per domain and tuned entry, the variant with the best mean ``metric`` over seeds (ties:
    the earlier setting): the cells with the chosen variants under their entry's name (column
    ``variant``: the variant's own; the others dropped), and the tuning table (every variant's
    mean, its setting, which was chosen).
    """
    import pandas as pd

    if metric not in cells.columns:
        raise ValueError(f"tuning.metric {metric!r} is not a metric the cells report")
    cells = cells.assign(entry=cells.method.map(entry_of))
    keep, rows = [], []
    for (domain, entry), part in cells.groupby(["domain", "entry"], sort=False):
        means = part.groupby("method", sort=False)[metric].mean()
        best = means.idxmax() if means.notna().any() else means.index[0]
        keep.append(part[part.method == best].assign(method=entry, variant=best))
        if len(means) > 1 or best != entry:
            rows += [{"domain": domain, "method": entry, "variant": name,
                      "setting": _describe(setting_of(name, grids)), "metric": metric,
                      "mean": float(value), "n_seeds": int((part.method == name).sum()),
                      "chosen": name == best} for name, value in means.items()]
    chosen = pd.concat(keep, ignore_index=True).drop(columns="entry") if keep else cells
    return chosen, pd.DataFrame(rows)


def chosen_table(chosen: Mapping[str, Mapping[str, Mapping[str, Any]]],
                 metric: str) -> pd.DataFrame:
    """The settings chosen on tuning replicates of their own (``tuning.chosen``), as rows of
    the tuning table (no means: those are in the tuning phase's own report).
    """
    import pandas as pd

    return pd.DataFrame([{"domain": domain, "method": entry, "variant": "",
                          "setting": _describe(setting), "metric": metric,
                          "mean": float("nan"), "n_seeds": 0, "chosen": True}
                         for domain, entries in chosen.items()
                         for entry, setting in entries.items()])


def strongest(cells: pd.DataFrame, baselines: Sequence[str], metric: str) -> dict[str, str]:
    """Per domain, the baseline with the best mean ``metric`` over seeds (a ``val`` metric)."""
    out = {}
    for domain, part in cells[cells.method.isin(baselines)].groupby("domain", sort=False):
        means = part.groupby("method", sort=False)[metric].mean()
        out[domain] = str(means.idxmax())
    return out


def _describe(setting: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in setting.items()) or "defaults"
