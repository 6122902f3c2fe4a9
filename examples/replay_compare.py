"""Compare samplers on a recorded replay table with the ``deploybench.compare`` API.

A replay problem (``replay:<table>:<scenario>``) answers each trial from measurements
recorded once on real hardware, so a comparison with many seeds costs seconds instead
of hours. Each run is a fresh study; ``run_comparison`` writes ``runs.jsonl``,
``summary.md``, ``summary.json`` and figures into ``--out`` and resumes when rerun.

If the requested replay problem is not available (no table of that name is installed,
or the ``replay:`` prefix is not registered), the script says so and falls back to the
synthetic deployment-like problem ``deploy_like``.

Run::

    python examples/replay_compare.py --seeds 5 --budget 25 --out replay-cmp
"""

from __future__ import annotations

import argparse
import sys

from deploybench.compare import SamplerConfig, render_markdown, run_comparison
from deploybench.problems import get_problem
from deploybench.samplers import SamplerSpecError, resolve_sampler

DEFAULT_PROBLEM = "replay:cpu-2core:cpu_edge"
FALLBACK_PROBLEM = "deploy_like"


def available_problem(name: str) -> str:
    """``name`` if it can be built, else the synthetic fallback (with a note on stderr)."""
    try:
        get_problem(name)
    except (KeyError, ValueError, OSError) as exc:
        print(f"note: {name} is not available ({exc}); using {FALLBACK_PROBLEM}", file=sys.stderr)
        return FALLBACK_PROBLEM
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default=DEFAULT_PROBLEM, help="default %(default)s")
    parser.add_argument("--samplers", default="random,tpe,tba_hybrid",
                        help="comma-separated sampler names (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--budget", type=int, default=25, help="trials per run (default 25)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", default="replay-compare", help="output directory")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.budget < 1 or args.jobs < 1:
        parser.error("--seeds, --budget and --jobs must be >= 1")

    samplers = []
    for name in filter(None, (s.strip() for s in args.samplers.split(","))):
        try:
            resolve_sampler(name)
        except SamplerSpecError as exc:
            parser.error(str(exc))
        # the TBA samplers get the budget as a hint ("$budget" is replaced per run)
        kwargs = {"expected_n_trials": "$budget"} if name == "tba_hybrid" else {}
        samplers.append(SamplerConfig(label=name, name=name, kwargs=kwargs))
    if not samplers:
        parser.error("--samplers is empty")

    problem = available_problem(args.problem)
    result = run_comparison(
        samplers, [problem], seeds=range(args.seeds), budgets=[args.budget], out_dir=args.out,
        jobs=args.jobs, reference=samplers[-1].label, progress=False,
    )
    print(f"problem: {problem}  runs: {result.n_ran} new, {result.n_skipped} resumed")
    print(render_markdown(result.summary))
    print(f"files: {', '.join(str(p) for p in result.files)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
