"""``deploybench optimize``: find the best feasible deployment configuration.

With no arguments it runs the quick CPU job: scenario ``cpu_edge``, 25 trials, warm-up
5 + 50 timed passes per measurement, results in ``./deploybench.db`` and figures in
``./deploybench-out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import signal
import time
from typing import Any, NoReturn

from deploybench.cli import UserError


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def register(subparsers: Any) -> None:
    from deploybench.deployment.scenarios import DEFAULT_CPU_SCENARIO, SCENARIOS
    from deploybench.optimize import QUICK_SETTINGS

    p = subparsers.add_parser(
        "optimize",
        help="find the best deployment configuration within latency/memory limits",
        description=(
            "Measure deployment configurations (model x backend x precision x batch size x "
            "threads) in isolated worker processes and find the best one that meets the "
            "scenario's limits. Scenarios: "
            + "; ".join(f"{s.name}: {s.description}" for s in SCENARIOS.values())
        ),
    )
    p.add_argument("--scenario", default=DEFAULT_CPU_SCENARIO, choices=sorted(SCENARIOS))
    p.add_argument("--budget", type=_positive(int), default=25, help="total trials (default 25)")
    p.add_argument("--models", type=_csv, default=None,
                   help="comma-separated models (default: all registered)")
    p.add_argument("--backends", type=_csv, default=None, help="comma-separated backends")
    p.add_argument("--precisions", type=_csv, default=None, help="comma-separated precisions")
    p.add_argument("--latency-ms", type=_positive(float), default=None,
                   help="override the scenario's latency cap (its p95 or p99)")
    p.add_argument("--memory-mb", type=_positive(float), default=None,
                   help="override the scenario's peak-memory cap")
    p.add_argument("--sampler", default=None,
                   help="sampler name or module:Class (default: tba_hybrid if installed, else tpe)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL or file (default sqlite:///deploybench.db)")
    p.add_argument("--study-name", default=None, help="default deploybench-<scenario>")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--warmup", type=int, default=QUICK_SETTINGS.warmup)
    p.add_argument("--passes", type=_positive(int), default=QUICK_SETTINGS.passes)
    p.add_argument("--abort-factor", type=_positive(float), default=QUICK_SETTINGS.abort_factor,
                   help="abort when the warm-up median exceeds this x the latency cap")
    p.add_argument("--timeout-s", type=_positive(float), default=QUICK_SETTINGS.timeout_s)
    p.add_argument("--memory-limit-mb", type=_positive(float), default=None,
                   help="kill a worker above this RSS (default: half of physical memory)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="override the scenario's device")
    p.add_argument("--data-dir", default=None, help="ImageNette-layout dataset for accuracy")
    p.add_argument("--weights-dir", default=None, help="directory with pretrained checkpoints")
    p.add_argument("--output-dir", default="deploybench-out", help="figures go here")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)

    def one_line_error(message: str) -> NoReturn:
        p.exit(2, f"{p.prog}: error: {message}\n")
        raise AssertionError("unreachable")

    p.error = one_line_error  # type: ignore[method-assign]


def _build(args: argparse.Namespace) -> dict[str, Any]:
    """Validate the arguments and turn them into ``optimize_deployment`` keywords."""
    import psutil

    from deploybench.deployment.scenarios import get_scenario
    from deploybench.deployment.space import DeploymentSpace
    from deploybench.optimize import QUICK_SETTINGS

    scenario = get_scenario(args.scenario)
    if args.device is not None:
        scenario = dataclasses.replace(scenario, device=args.device)
    limits = {}
    if args.latency_ms is not None:
        limits[scenario.latency_key] = args.latency_ms
    if args.memory_mb is not None:
        limits["memory_peak_mb"] = args.memory_mb
    if args.warmup < 0:
        raise UserError(f"--warmup must be >= 0, got {args.warmup}")
    for flag, path in (("--data-dir", args.data_dir), ("--weights-dir", args.weights_dir)):
        if path is not None and not os.path.isdir(path):
            raise UserError(f"{flag} {path!r} is not a directory")
    try:
        space = DeploymentSpace.create(
            models=args.models, backends=args.backends, precisions=args.precisions
        )
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    memory_limit = args.memory_limit_mb or psutil.virtual_memory().total / 2**20 / 2
    settings = dataclasses.replace(
        QUICK_SETTINGS, warmup=args.warmup, passes=args.passes, abort_factor=args.abort_factor,
        timeout_s=args.timeout_s, memory_limit_mb=memory_limit, weights_dir=args.weights_dir,
        seed=args.seed or 0,
    )
    return {
        "constraints": limits, "budget": args.budget, "scenario": scenario,
        "data_dir": args.data_dir, "sampler": args.sampler, "storage": args.storage,
        "study_name": args.study_name, "seed": args.seed, "settings": settings,
        "progress": not args.no_progress, "space": space,
    }


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    from deploybench.deployment.report import format_table, save_figures
    from deploybench.optimize import DeploymentSetupError, optimize_deployment

    kwargs = _build(args)
    signal.signal(signal.SIGTERM, _terminate)  # clean up the running worker on SIGTERM too
    start = time.perf_counter()
    try:
        best, result = optimize_deployment(**kwargs)
    except DeploymentSetupError as exc:
        raise UserError(str(exc)) from None
    wall = time.perf_counter() - start
    sc = result.scenario
    print()
    print(format_table(result.study, sc))
    print()
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    print(f"scenario {sc.name}: {sc.latency_key} <= {sc.latency_cap_ms:g} ms, memory_peak_mb <= "
          f"{sc.memory_cap_mb:g} MB, maximise {sc.objective}; trials: {counts}; "
          f"this run {wall:.0f} s")
    if best is None:
        print(result.message)
    else:
        m = result.metrics
        print(f"best configuration: {best}")
        print(f"  {sc.objective} = {result.objective_value:.4g}"
              + (f" (source: {m.get('accuracy_source')})" if sc.objective == "accuracy" else ""))
        print(f"  {sc.latency_key} = {m.get(sc.latency_key, float('nan')):.2f} ms, peak memory = "
              f"{m.get('peak_memory_mb', float('nan')):.0f} MB, device executed = "
              f"{m.get('device_executed')}, quantized = {m.get('quantized') or 'no'}")
        if m.get("accuracy_note"):
            print(f"  note: {m['accuracy_note']}")
    for path in save_figures(result.study, sc, args.output_dir):
        print(f"figure: {path}")
    return 0
