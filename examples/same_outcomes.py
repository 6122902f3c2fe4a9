"""Check that two ``deploybench compare`` result files hold the same trials, run by run.

A change meant only to make the sampler faster must not change a single proposal. Run the
same comparison before and after the change (or against the published rows) and compare:

    deploybench compare --samplers tba_hybrid tba --seeds 20 --budgets 15 25 50 \
        --jobs 1 --no-figures --out /tmp/after
    python examples/same_outcomes.py docs/benchmarks/synthetic/runs.jsonl.gz \
        /tmp/after/runs.jsonl --samplers tba_hybrid tba

Runs are paired by their key (sampler, kwargs, problem, budget, seed); a pair is identical
when every trial has the same status and the same objective value. ``--rtol 1e-9`` accepts
values that differ by floating-point noise only (statuses must still match): rows made on
another CPU, where numpy and OpenBLAS round differently, agree that far. The exit status is
1 if any pair differs or nothing could be paired. Also prints the median sampler overhead
(ms per trial) of each file over the paired runs, per sampler.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.compare import read_rows


def _load(path: Path, samplers: set[str] | None) -> dict[str, dict[str, Any]]:
    return {
        row["key"]: row
        for row in read_rows(path)
        if samplers is None or row["sampler"] in samplers
    }


def _same(a: dict[str, Any], b: dict[str, Any], rtol: float) -> bool:
    """Same statuses, and values equal (or within ``rtol`` of each other, relatively)."""
    if a["statuses"] != b["statuses"] or len(a["values"]) != len(b["values"]):
        return False
    for x, y in zip(a["values"], b["values"]):
        if x is None or y is None:
            if x is not y:
                return False
        elif x != y and not abs(x - y) <= rtol * max(abs(x), abs(y)):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="runs.jsonl(.gz) of the reference run")
    parser.add_argument("after", type=Path, help="runs.jsonl(.gz) to check against it")
    parser.add_argument("--samplers", nargs="+", help="only these sampler labels")
    parser.add_argument(
        "--rtol", type=float, default=0.0,
        help="relative tolerance for objective values (default 0: exactly equal)",
    )
    args = parser.parse_args(argv)
    if not args.rtol >= 0.0:
        parser.error(f"--rtol must be >= 0, got {args.rtol}")
    for path in (args.before, args.after):
        if not path.exists():
            parser.error(f"{path} does not exist")
    wanted = set(args.samplers) if args.samplers else None
    before, after = _load(args.before, wanted), _load(args.after, wanted)
    keys = sorted(before.keys() & after.keys())
    if not keys:
        print("no run appears in both files", file=sys.stderr)
        return 1
    differ = [k for k in keys if not _same(before[k], after[k], args.rtol)]
    ms: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for k in keys:
        ms[before[k]["sampler"]][0].append(before[k]["overhead_ms_per_trial"])
        ms[after[k]["sampler"]][1].append(after[k]["overhead_ms_per_trial"])
    same = len(keys) - len(differ)
    print(f"{len(keys)} runs in both files; {same} identical, {len(differ)} differ")
    for k in differ[:10]:
        row = before[k]
        where = f"{row['problem']} budget {row['budget']} seed {row['seed']}"
        print(f"  differs: {row['sampler']} {where}")
    for label, (b, a) in sorted(ms.items()):
        print(
            f"  {label}: median sampler ms/trial {np.median(b):.2f} (before) -> "
            f"{np.median(a):.2f} (after) over {len(b)} runs"
        )
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
