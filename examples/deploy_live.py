"""Live DeployBench optimisation from Python: ``deploybench.optimize_deployment``.

Each trial measures one deployment configuration (model x backend x precision x batch
x threads) in an isolated process and reports p95 latency and peak memory as
constraints. The same study name resumes, and trials already in the study count toward
the budget. The command-line equivalent is ``deploybench optimize``.

Run (the full job takes a while on a CPU)::

    python examples/deploy_live.py --budget 25
    python examples/deploy_live.py --budget 2 --passes 5 --models resnet18   # smoke test
"""

from __future__ import annotations

import argparse

from deploybench import optimize_deployment
from deploybench.profiling._types import ProfileSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=25, help="total trials (default 25)")
    parser.add_argument("--passes", type=int, default=50, help="timed passes (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up passes (default 5)")
    parser.add_argument("--models", default=None, help="comma-separated models (default: all)")
    parser.add_argument("--latency-ms", type=float, default=None, help="p95 latency cap")
    parser.add_argument("--memory-mb", type=float, default=None, help="peak memory cap")
    parser.add_argument("--storage", default=None, help="default sqlite:///deploybench.db")
    parser.add_argument("--study-name", default=None, help="default deploybench-<scenario>")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    args = parser.parse_args(argv)
    if args.budget < 1 or args.passes < 1 or args.warmup < 0:
        parser.error("--budget and --passes must be >= 1 and --warmup >= 0")

    constraints: dict[str, float] = {}
    if args.latency_ms is not None:
        constraints["latency_p95_ms"] = args.latency_ms
    if args.memory_mb is not None:
        constraints["memory_peak_mb"] = args.memory_mb
    try:
        best_config, result = optimize_deployment(
            constraints=constraints or None,
            budget=args.budget,
            models=args.models.split(",") if args.models else None,
            storage=args.storage,
            study_name=args.study_name,
            seed=args.seed,
            settings=ProfileSettings(warmup=args.warmup, passes=args.passes, timeout_s=300.0,
                                     seed=args.seed),
        )
    except ValueError as exc:  # bad input, detected before any measurement
        parser.error(str(exc))

    print(result.message)
    print(f"trials: {len(result.study.trials)}  outcomes: {result.counts}")
    if best_config is not None:
        print(f"best configuration: {best_config}")
        print(f"objective: {result.objective_value}  measurements: {result.metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
