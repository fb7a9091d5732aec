"""Print the state of the parts the adaptive method stands on, per domain, from the reports the
pipeline wrote (``patterns@``, ``generator``, ``annotator@``): can the pretrained encoder find
the rare patterns, can the generator hit the class and cluster it is asked for, and how good is
the judge that scores it. One markdown table, one column per domain.

    python scripts/upstream_table.py [WORKSPACE]   # default: the current directory
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def rows(root: Path, domain: str) -> dict[str, str]:
    """The table's cells for one domain ('–' where a report or key is missing)."""
    patterns = _read(root / "reports" / "patterns" / f"{domain}.json")
    generator = _read(root / "reports" / "generators" / f"{domain}.json")
    judge = _read(root / "reports" / "annotators" / f"{domain}.json").get("judge", {})
    scores, alg = patterns.get("scores", {}), patterns.get("algorithm", "kmeans")
    pre, raw = scores.get("pretrained", {}), scores.get("raw", {})
    ceiling = patterns.get("ceiling") or {}
    target = generator.get("targeting", {})
    return {
        f"rare-pattern lift, {alg} cluster deficit (pretrained)":
            _num(pre.get(alg, {}).get("rare_lift")),
        "the same over clustering seeds, mean [min, max]": _spread(pre.get("lift_spread")),
        "rare-pattern lift, density ratio top 10% (pretrained / raw)":
            f"{_num(pre.get('density_ratio', {}).get('rare_lift'))} / "
            f"{_num(raw.get('density_ratio', {}).get('rare_lift'))}",
        "linear probe on seed labels, pretrained vs raw": f"{_num(pre.get('probe_acc'))} vs "
                                                          f"{_num(raw.get('probe_acc'))}",
        "linear probe on pool labels, pretrained vs raw":
            f"{_num(pre.get('probe_acc_pool'))} vs {_num(raw.get('probe_acc_pool'))}",
        "pattern ceiling, pretrained / raw (majority)":
            f"{_num(ceiling.get('pretrained', {}).get('acc'))} / "
            f"{_num(ceiling.get('raw', {}).get('acc'))} "
            f"({_num(ceiling.get('raw', {}).get('majority'))})",
        "targeting accuracy ÷ chance": _ratio(target.get("acc"), target.get("chance")),
        "label accuracy of targeted samples vs chance":
            f"{_num(target.get('label_acc'))} vs {_num(target.get('label_chance'))}",
        "Fréchet vs its real-vs-real floor": f"{_num(generator.get('frechet'), 4)} vs "
                                             f"{_num(generator.get('frechet_real'), 4)}",
        "TSTR ratio (equal sizes)": _num(generator.get("tstr", {}).get("ratio")),
        "judge accuracy on val": _num(judge.get("val/acc")),
    }


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _num(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{float(value):.{digits}f}"


def _spread(spread: Any) -> str:
    if not spread:
        return "–"
    return f"{_num(spread['mean'])} [{_num(spread['min'])}, {_num(spread['max'])}]"


def _ratio(a: Any, b: Any) -> str:
    return "–" if a is None or not b else f"{float(a) / float(b):.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", nargs="?", default=".", type=Path)
    parser.add_argument("--domains", nargs="+", help="default: every domain with a pattern report")
    args = parser.parse_args()
    domains = args.domains or sorted(p.stem for p in
                                     (args.workspace / "reports" / "patterns").glob("*.json"))
    table = {d: rows(args.workspace, d) for d in domains}
    measures = list(next(iter(table.values()))) if table else []
    print("| measure | " + " | ".join(domains) + " |")
    print("|---|" + "---|" * len(domains))
    for m in measures:
        print(f"| {m} | " + " | ".join(table[d][m] for d in domains) + " |")


if __name__ == "__main__":
    main()
