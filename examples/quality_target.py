"""Check the sampler's four-part quality target on a ``deploybench compare`` rows file.

The target (issue #2), per problem x budget cell:

1. **regret**: the sampler's mean normalised regret is no worse than the best mean of the
   peers (default: random, TPE, TPE-with-crash-as-pruned and GP);
2. **waste**: it wastes at most 25 % of its trials (crashed, infeasible or pruned);
3. **duplicates**: it proposes none;
4. **overhead**: its median sampler time per trial is at most 1.5x TPE's.

For each cell the script prints the sampler's mean regret, the best peer and its mean, the
paired two-sided Wilcoxon signed-rank p-value of the difference (paired by seed,
``scipy.stats.wilcoxon``) — so a "loss" can be told apart from noise — and then the other
three parts, and the lowest mean waste of *any* sampler in the file for that cell (so a
cell where no sampler meets the waste part can be told apart from one where the sampler
falls short). The last lines count the cells meeting each part. Regret is computed exactly as
the harness summary does. ``.jsonl.gz`` files are read directly (``read_rows``).

    python examples/quality_target.py docs/benchmarks/synthetic/runs.jsonl.gz
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.compare import fallback_references, paired_wilcoxon, read_rows, row_regret

PEERS = ("random", "tpe", "tpe_prune", "gp")


def pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Paired two-sided Wilcoxon signed-rank p-value (1.0 when every pair ties)."""
    p = paired_wilcoxon(a, b)
    return 1.0 if p is None else p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, help="runs.jsonl or runs.jsonl.gz")
    parser.add_argument("--sampler", default="tba_hybrid", help="sampler label to check")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), help="peer labels")
    parser.add_argument("--overhead-peer", default="tpe", help="label overhead is compared to")
    parser.add_argument("--max-waste", type=float, default=0.25)
    parser.add_argument("--max-overhead-ratio", type=float, default=1.5)
    args = parser.parse_args(argv)
    if not args.runs.exists():
        parser.error(f"no such file: {args.runs}")
    rows = list(read_rows(args.runs))  # .jsonl or .jsonl.gz
    fallback = fallback_references(rows)
    cells: dict[tuple[str, int], dict[str, dict[int, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for r in rows:
        cells[(r["problem"], int(r["budget"]))][r["sampler"]][int(r["seed"])] = r
    labels = {s for c in cells.values() for s in c}
    missing = [s for s in [args.sampler, *args.peers] if s not in labels]
    if args.sampler in missing:
        parser.error(f"no runs of {args.sampler!r}; have {sorted(labels)}")
    if missing:
        print(f"note: no runs of {missing}; they are left out", file=sys.stderr)
    peers = [p for p in args.peers if p in labels]

    print(
        f"{'budget':>6} {'problem':22s} {'regret':>7} {'best peer':>18} {'p':>6} {'verdict':8s}"
        f" {'waste':>6} {'dups':>5} {'ms/trial':>9} {'x ' + args.overhead_peer:>8}"
        f"  least waste (any sampler)"
    )
    met: defaultdict[str, int] = defaultdict(int)
    n_cells = 0
    for (problem, budget) in sorted(cells, key=lambda k: (k[1], k[0])):
        by = cells[(problem, budget)]
        mine = by.get(args.sampler)
        if not mine:
            continue
        n_cells += 1
        reg = {
            s: {seed: row_regret(r, fallback) for seed, r in by[s].items()}
            for s in (args.sampler, *peers)
            if s in by
        }
        means = {p: float(np.mean(list(reg[p].values()))) for p in peers if p in reg}
        best = min(means, key=lambda p: means[p]) if means else None
        own = float(np.mean(list(reg[args.sampler].values())))
        if best is not None:
            seeds = sorted(set(reg[args.sampler]) & set(reg[best]))
            a = np.array([reg[args.sampler][s] for s in seeds])
            b = np.array([reg[best][s] for s in seeds])
            p = pvalue(a, b)
            ok_regret = own <= means[best] + 1e-12
            verdict = "ok" if ok_regret else ("LOSS*" if p < 0.05 else "loss")
            peer_txt = f"{best} {means[best]:.3f}"
        else:
            p, ok_regret, verdict, peer_txt = float("nan"), True, "n/a", "-"
        waste = float(np.mean([r["waste"] for r in mine.values()]))
        least = min(
            ((float(np.mean([r["waste"] for r in runs.values()])), s) for s, runs in by.items()),
            key=lambda ws: (ws[0], ws[1] != args.sampler),
        )
        met["waste_any"] += least[0] <= args.max_waste
        dups = float(np.mean([r["duplicate_fraction"] for r in mine.values()]))
        ms = float(np.median([r["overhead_ms_per_trial"] for r in mine.values()]))
        ref = by.get(args.overhead_peer)
        ratio = (
            ms / float(np.median([r["overhead_ms_per_trial"] for r in ref.values()]))
            if ref
            else float("nan")
        )
        met["regret"] += ok_regret
        met["waste"] += waste <= args.max_waste
        met["duplicates"] += dups == 0.0
        met["overhead"] += bool(ratio <= args.max_overhead_ratio)
        print(
            f"{budget:>6} {problem:22s} {own:7.3f} {peer_txt:>18} {p:6.3f} {verdict:8s}"
            f" {waste:6.2f} {dups:5.3f} {ms:9.2f} {ratio:8.2f}  {least[0]:.2f} {least[1]}"
        )
    if n_cells == 0:
        print("no cells", file=sys.stderr)
        return 1
    print(f"\n{n_cells} cells. Target parts met (cells):")
    print(f"  regret <= best of {', '.join(peers)}: {met['regret']}/{n_cells}"
          "  (loss* = paired Wilcoxon p < 0.05)")
    print(f"  waste <= {args.max_waste:g}: {met['waste']}/{n_cells}"
          f"  (met by at least one sampler in the file: {met['waste_any']}/{n_cells})")
    print(f"  zero duplicates: {met['duplicates']}/{n_cells}")
    print(f"  overhead <= {args.max_overhead_ratio:g}x {args.overhead_peer} "
          f"(median ms/trial in these runs): {met['overhead']}/{n_cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
