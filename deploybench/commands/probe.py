"""``deploybench probe``: re-measure configurations near a latency cap to expose flips.

Example::

    deploybench probe --configs scout.json --cap-ms 20 --repeats 20 \
        --warmup 5 --passes 100 --out runs/probe
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_PROFILER = "deploybench.profiling:profile"


def register(subparsers: Any) -> None:
    """Add the ``probe`` sub-command."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "probe",
        help="re-measure configurations near a latency cap (stochastic feasibility)",
        description=(
            "Select configurations around a latency cap (gray, near and deep zones) from a "
            "finished study, a recorded table or a JSON list, re-measure each one many times "
            "in fresh subprocesses (alternating cold and warm starts), and report p95 "
            "distributions, feasibility fractions and flip rates with Wilson 95% intervals."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--study", help="study name (needs --storage)")
    src.add_argument("--table", help="recorded table (*.jsonl.gz) from 'deploybench record'")
    src.add_argument("--configs", help='JSON list of {"config": {...}, "latency_p95_ms": x}')
    src.add_argument("--from-probe", metavar="REPEATS_JSONL",
                     help="an earlier probe's repeats.jsonl (median p95 per config), to "
                          "re-probe the same configurations around another cap")
    p.add_argument("--storage", help="Optuna storage URL of --study")
    p.add_argument("--p95-attr", default="latency_p95_ms",
                   help="user attribute holding the p95 in study trials (default %(default)s)")
    p.add_argument("--cap-ms", required=True,
                   help="p95 latency cap in ms, or 'auto' (with --scout): the cap that puts "
                        "the most scouted configurations in the gray zone")
    p.add_argument("--scout", action="store_true",
                   help="with --configs: the file lists configurations without p95; measure "
                        "each once first (cached as scout.jsonl in --out) to place them in zones")
    p.add_argument("--memory-cap-mb", type=float, default=None,
                   help="optional memory cap used when judging feasibility")
    p.add_argument("--margin", type=float, default=0.1,
                   help="gray zone half-width relative to the cap (default %(default)s)")
    p.add_argument("--near-width", type=float, default=0.2,
                   help="width of the near zones relative to the cap (default %(default)s)")
    p.add_argument("--zone-sizes", default="",
                   help="configs per zone, e.g. 'gray=4,near_feasible=2' (defaults: "
                        "deep_feasible=1,near_feasible=2,gray=4,near_infeasible=2,"
                        "deep_infeasible=1)")
    p.add_argument("--repeats", type=int, default=20, help="repeats per config (default 20)")
    p.add_argument("--seed", type=int, default=0, help="selection and schedule seed")
    p.add_argument("--out", required=True, help="output directory (resumable)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--warmup", type=int, default=10, help="warm-up passes per repeat")
    p.add_argument("--passes", type=int, default=200, help="timed passes per repeat")
    p.add_argument("--timeout-s", type=float, default=600.0, help="per-repeat timeout")
    p.add_argument("--profiler", default=DEFAULT_PROFILER,
                   help="profiler as module:function (default %(default)s)")
    p.add_argument("--select-only", action="store_true",
                   help="print and save the selection, measure nothing")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def _load_profiler(spec: str) -> Callable[..., Any]:
    from deploybench.cli import UserError

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UserError(f"--profiler must look like 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"cannot import profiler module {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise UserError(f"profiler {spec!r} not found (is the live profiler installed?)")
    return fn  # type: ignore[no-any-return]


def _scouted(args: argparse.Namespace, settings: Any, out: Path) -> list[Any]:
    """Scout the configurations of ``--configs`` (resumable cache ``out/scout.jsonl``)."""
    from deploybench.probe._scout import scout
    from deploybench.probe._select import config_from_params

    try:
        raw = json.loads(Path(args.configs).read_text())
    except FileNotFoundError:
        raise ValueError(f"configs file not found: {args.configs}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{args.configs} is not valid JSON ({exc})") from None
    if not isinstance(raw, list) or not raw or not all(isinstance(d, dict) for d in raw):
        raise ValueError(f"{args.configs} must hold a non-empty JSON list of configurations")
    configs = [config_from_params(d.get("config", d)) for d in raw]
    cands = scout(configs, settings, _load_profiler(args.profiler),
                  progress=not args.no_progress, cache_path=out / "scout.jsonl")
    if not cands:
        raise ValueError("every scouted configuration crashed; nothing to probe")
    return cands


def _validate(args: argparse.Namespace) -> None:
    from deploybench.cli import UserError

    if args.cap_ms == "auto":
        if not args.scout:
            raise UserError("--cap-ms auto needs --scout")
    else:
        try:
            args.cap_ms = float(args.cap_ms)
        except ValueError:
            raise UserError(f"--cap-ms must be a number or 'auto', got {args.cap_ms!r}") from None
        if not (math.isfinite(args.cap_ms) and args.cap_ms > 0):
            raise UserError(f"--cap-ms must be a positive number, got {args.cap_ms}")
    if args.scout and not args.configs:
        raise UserError("--scout works with --configs (a JSON list of configurations)")
    if args.repeats < 1:
        raise UserError(f"--repeats must be >= 1, got {args.repeats}")
    if args.warmup < 0 or args.passes < 1:
        raise UserError("--warmup must be >= 0 and --passes >= 1")
    if args.study and not args.storage:
        raise UserError("--study needs --storage (e.g. sqlite:///runs/study.db)")
    if args.memory_cap_mb is not None and args.memory_cap_mb <= 0:
        raise UserError("--memory-cap-mb must be > 0")


def run(args: argparse.Namespace) -> int:
    """Run the probe (see the module docstring)."""
    from deploybench import probe
    from deploybench.cli import UserError
    from deploybench.probe._scout import suggest_cap
    from deploybench.profiling._types import ProfileSettings

    _validate(args)
    out = Path(args.out)
    settings = ProfileSettings(
        device=args.device, warmup=args.warmup, passes=args.passes,
        timeout_s=args.timeout_s, abort_factor=None,
    )
    try:
        sizes = probe.parse_zone_sizes(args.zone_sizes)
        if args.scout:
            cands = _scouted(args, settings, out)
            if args.cap_ms == "auto":
                args.cap_ms = suggest_cap(cands, args.margin, args.near_width)
                print(f"cap chosen from the scout: {args.cap_ms:.2f} ms")
        elif args.study:
            cands = probe.candidates_from_study(args.storage, args.study, args.p95_attr)
        elif args.table:
            cands = probe.candidates_from_table(args.table)
        elif args.from_probe:
            cands = probe.candidates_from_probe_log(args.from_probe)
        else:
            cands = probe.candidates_from_json(args.configs)
        selection = probe.select_candidates(
            cands, args.cap_ms, sizes, margin=args.margin, near_width=args.near_width,
            seed=args.seed,
        )
    except ValueError as exc:  # includes TableFormatError
        raise UserError(str(exc)) from None
    from deploybench.probe._select import describe

    print("\n".join(describe(selection)))
    if not selection.selected:
        raise UserError(f"no configuration found in any zone around cap {args.cap_ms:g} ms")
    out.mkdir(parents=True, exist_ok=True)
    (out / "selection.json").write_text(
        json.dumps([s.to_dict() for s in selection.selected], indent=2) + "\n"
    )
    if args.select_only:
        return 0
    settings = dataclasses.replace(settings, latency_cap_ms=args.cap_ms)
    profile_fn = _load_profiler(args.profiler)
    try:
        records = probe.run_probe(
            list(selection.selected), settings, repeats=args.repeats,
            log_path=out / "repeats.jsonl", profile_fn=profile_fn, cap_ms=args.cap_ms,
            seed=args.seed, progress=not args.no_progress,
            header_extra={"profiler": args.profiler, "margin": args.margin,
                          "near_width": args.near_width},
        )
    except probe.ProbeLogError as exc:
        raise UserError(str(exc)) from None
    header, _ = probe.read_probe_log(out / "repeats.jsonl")
    summaries = probe.summarise_probe(records, args.cap_ms, memory_cap_mb=args.memory_cap_mb)
    probe.write_summary(out / "summary.json", summaries, header, args.memory_cap_mb)
    probe.plot_p95(summaries, args.cap_ms, out / "p95_per_config.png")
    probe.plot_flip(summaries, out / "flip_vs_distance.png", margin=args.margin)
    print(probe.format_table(summaries))
    gray = probe.pooled(summaries, ["gray"])
    if gray.get("n_repeats"):
        lo, hi = gray["pooled_flip_interval"]
        print(f"gray zone pooled flip rate {gray['pooled_flip_rate']:.3f} "
              f"[{lo:.3f}, {hi:.3f}] over {gray['n_repeats']} repeats")
    print(f"wrote {out / 'summary.json'}, {out / 'p95_per_config.png'}, "
          f"{out / 'flip_vs_distance.png'}")
    return 0
