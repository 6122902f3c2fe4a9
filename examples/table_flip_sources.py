"""How many of a replay table's feasibility flips survive when loaded repeats are dropped.

A configuration *flips* under a scenario when some of its recorded repeats meet the limits
and others do not. Repeats measured while other jobs loaded the machine
(``other_load_cores`` above ``--max-load``, or unknown because they were recorded before
the field existed) are a known source of flips; this script counts, per scenario, the
flipping configurations and those that still flip among the quiet repeats alone.

Usage::

    python examples/table_flip_sources.py --table cpu-2core \\
        --subgrid '{"models": ["mobilenet_v2", "efficientnet_b0", "resnet18"], \\
                    "backends": ["pytorch_eager", "onnxruntime"], "batch_sizes": [1, 2, 4]}'
"""

from __future__ import annotations

import argparse
import json
import sys

from deploybench.deployment.scenarios import SCENARIOS
from deploybench.tables import TableObjective


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="cpu-2core", help="shipped table name or path")
    parser.add_argument("--subgrid", default="{}", help="JSON sub-grid, as TableObjective")
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="a repeat is quiet when other_load_cores <= this")
    args = parser.parse_args(argv)
    try:
        subgrid = json.loads(args.subgrid)
        first = TableObjective(args.table, next(iter(SCENARIOS)), subgrid=subgrid)
    except ValueError as exc:
        parser.error(str(exc))
    reps = [r for rec in first.table.records.values() for r in rec.repeats]
    unknown = sum(r.other_load_cores is None for r in reps)
    loaded = sum(r.other_load_cores is not None and r.other_load_cores > args.max_load
                 for r in reps)
    print(f"{len(first.table.records)} configurations, {len(reps)} repeats: {loaded} loaded "
          f"(other_load_cores > {args.max_load}), {unknown} with unknown load")
    for name in SCENARIOS:
        problem = TableObjective(first.table, name)  # already loaded and restricted
        flips = quiet_flips = 0
        for rec in problem.table.records.values():
            ok = [problem.repeat_feasible(r) for r in rec.repeats]
            if 0 < sum(ok) < len(ok):
                flips += 1
                quiet = [problem.repeat_feasible(r) for r in rec.repeats
                         if r.other_load_cores is not None and r.other_load_cores <= args.max_load]
                quiet_flips += int(len(quiet) >= 2 and 0 < sum(quiet) < len(quiet))
        print(f"{name:18s} flipping configurations {flips:4d}; still flipping among quiet "
              f"repeats only {quiet_flips:4d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
