"""Paired ablation report: each sampler label against a baseline label, run by run.

Reads one or more ``runs.jsonl`` files written by ``deploybench compare`` (for example the
same ablation command run on two seed ranges), pairs every run of a variant with the
baseline's run on the same problem, budget and seed *in the same file*, and prints per
budget: the number of pairs, mean normalised regret (baseline -> variant), the variant's
wins/losses, the paired two-sided Wilcoxon signed-rank p-value
(``scipy.stats.wilcoxon``), and the same for the waste fraction.

Regret is computed exactly as the harness summary does (problems without a reference
value use the median feasible observed value over all runs of that file).

    python examples/paired_ablation.py abl-20/runs.jsonl abl-40/runs.jsonl \
        --baseline tba_hybrid --per-problem
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.compare import fallback_references, paired_wilcoxon, read_rows, row_regret

Key = tuple[str, int, int]  # problem, budget, seed


def pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Paired two-sided Wilcoxon signed-rank p-value (1.0 when every pair ties)."""
    p = paired_wilcoxon(a, b)
    return 1.0 if p is None else p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="runs.jsonl files")
    parser.add_argument("--baseline", default="tba_hybrid", help="baseline sampler label")
    parser.add_argument(
        "--per-problem",
        action="store_true",
        help="also print the mean paired regret difference per problem",
    )
    args = parser.parse_args(argv)

    # pairs[label][budget] -> list of (problem, base regret, var regret, base waste, var waste)
    pairs: dict[str, dict[int, list[tuple[str, float, float, float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for path in args.runs:
        if not path.exists():
            parser.error(f"no such file: {path}")
        rows = list(read_rows(path))  # skips a line torn by a running harness
        fallback = fallback_references(rows)
        by: dict[str, dict[Key, dict[str, Any]]] = defaultdict(dict)
        for r in rows:
            by[r["sampler"]][(r["problem"], int(r["budget"]), int(r["seed"]))] = r
        if args.baseline not in by:
            parser.error(f"{path}: no runs of the baseline {args.baseline!r}; have {sorted(by)}")
        base = by[args.baseline]
        for label, runs in by.items():
            if label == args.baseline:
                continue
            for key, r in runs.items():
                b = base.get(key)
                if b is None:
                    continue
                pairs[label][key[1]].append(
                    (
                        key[0],
                        row_regret(b, fallback),
                        row_regret(r, fallback),
                        float(b["waste"]),
                        float(r["waste"]),
                    )
                )
    if not pairs:
        print("no paired runs found", file=sys.stderr)
        return 1
    for label in sorted(pairs):
        print(f"== {label} vs {args.baseline}")
        for budget in sorted(pairs[label]):
            data = pairs[label][budget]
            probs = np.array([d[0] for d in data])
            a, c, wa, wc = (np.array([d[i] for d in data]) for i in (1, 2, 3, 4))
            print(
                f"  B{budget:<3d} n={len(a):3d}  regret {a.mean():.3f} -> {c.mean():.3f} "
                f"(wins {int(np.sum(c < a))} / losses {int(np.sum(c > a))}, "
                f"p = {pvalue(a, c):.3f})  waste {wa.mean():.3f} -> {wc.mean():.3f} "
                f"(p = {pvalue(wa, wc):.4f})"
            )
            if args.per_problem:
                diffs = "  ".join(
                    f"{p}: {np.mean(c[probs == p] - a[probs == p]):+.3f}"
                    for p in sorted(set(probs))
                )
                print(f"        regret difference by problem: {diffs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
