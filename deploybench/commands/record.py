"""``deploybench record``: measure a deployment grid into a resumable table.

Modes (see ``docs/deploybench/tables.md``):

* local: ``--out rec.jsonl [--compact-to table.jsonl.gz]`` (resumable, same command);
* distributed: ``--storage URL --study-name NAME --workers N [--export table.jsonl.gz]``;
* ``--compact-only --out rec.jsonl --compact-to table.jsonl.gz``;
* ``--summary TABLE`` prints coverage and per-scenario outcome fractions.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deploybench.cli import UserError
from deploybench.profiling._types import ProfileSettings
from deploybench.tables import _space
from deploybench.tables._distributed import export_table, prepare_study, run_workers
from deploybench.tables._format import TableFormatError, load_table, save_table
from deploybench.tables._load import QuietPolicy
from deploybench.tables._recorder import (
    DEFAULT_PROFILER,
    default_provenance,
    parse_priority,
    record,
    resolve_profiler,
)
from deploybench.tables._recording import read_recording
from deploybench.tables._replay import resolve_table_path
from deploybench.tables._summary import format_summary, summarize

DEFAULT_WARMUP = 5
DEFAULT_PASSES = 50
DEFAULT_TIMEOUT_S = 180.0


def register(subparsers: Any) -> None:
    """Add the ``record`` parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "record",
        help="record a deployment grid into a replay table (resumable, distributable)",
        description="Sweep the deployment grid with the live profiler. Re-running the same "
        "command resumes an interrupted recording.",
    )
    g = p.add_argument_group("grid (default: the full grid)")
    g.add_argument("--models", nargs="+", default=list(_space.MODELS))
    g.add_argument("--backends", nargs="+", default=list(_space.BACKENDS))
    g.add_argument("--precisions", nargs="+", default=list(_space.PRECISIONS))
    g.add_argument("--batch-sizes", nargs="+", type=int, default=list(_space.BATCH_SIZES))
    g.add_argument("--threads", nargs="+", type=int, default=list(_space.THREADS),
                   help="thread counts for pytorch_eager/onnxruntime (torch_compile: none)")
    g.add_argument("--repeats", type=int, default=3, help="repeats per configuration")
    g.add_argument("--first", nargs="+", metavar="FIELD=V1,V2", default=[],
                   help="measure every repeat of the matching configurations before the "
                   "rest, e.g. --first batch_size=1,2,4 model=mobilenet_v2,resnet18 "
                   "(the grid, and so the resumable file, stay the same)")
    s = p.add_argument_group("measurement settings")
    s.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="device to measure on (default cpu)")
    s.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                   help=f"warm-up passes per measurement (default {DEFAULT_WARMUP})")
    s.add_argument("--passes", type=int, default=DEFAULT_PASSES,
                   help=f"timed passes per measurement (default {DEFAULT_PASSES})")
    s.add_argument("--abort-factor", type=float, default=ProfileSettings().abort_factor,
                   help="abort when the warm-up median latency > factor x latency cap "
                   "(0: never; default: the profiler's default)")
    s.add_argument("--abort-after", type=int, default=ProfileSettings().abort_after,
                   help="warm-up passes after which the abort rule is checked")
    s.add_argument("--latency-cap-ms", type=float, default=None,
                   help="cap the abort rule refers to (default: loosest scenario latency cap)")
    s.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S,
                   help="per-measurement limit in seconds; a timeout is recorded as a crash "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    s.add_argument("--memory-limit-mb", type=float, default=None,
                   help="kill a measuring subprocess above this RSS, recorded as an oom "
                        "crash (default: no limit)")
    s.add_argument("--image-size", type=int, default=224,
                   help="input image side in pixels (default 224)")
    s.add_argument("--data-dir", default=None,
                   help="ImageNette-layout dataset for measured accuracy (never downloaded)")
    s.add_argument("--accuracy-samples", type=int, default=500,
                   help="images per accuracy measurement (default 500)")
    s.add_argument("--weights-dir", default=None,
                   help="directory with pretrained checkpoints (never downloaded)")
    s.add_argument("--profiler", default=DEFAULT_PROFILER,
                   help="profiler as module:function (default: the live profiler)")
    s.add_argument("--max-other-load", type=float, default=None, metavar="CORES",
                   help="measure only while other processes use at most CORES cores: wait "
                   "for a quiet machine before each measurement and retake one that ran "
                   "under more load (local mode; default: measure regardless)")
    s.add_argument("--quiet-retries", type=int, default=3,
                   help="with --max-other-load: retakes of a loaded measurement before it "
                   "is kept anyway")
    s.add_argument("--quiet-wait-s", type=float, default=600.0,
                   help="with --max-other-load: longest wait for a quiet machine per "
                   "measurement")
    s.add_argument("--note", default=None, help="free text stored in the table provenance")
    o = p.add_argument_group("output")
    o.add_argument("--out", type=Path, default=None, help="JSONL recording (local mode)")
    o.add_argument("--compact-to", type=Path, default=None,
                   help="also write the compressed table (.jsonl.gz) periodically")
    o.add_argument("--compact-every", type=int, default=20)
    o.add_argument("--compact-only", action="store_true",
                   help="only compact --out into --compact-to")
    o.add_argument("--max-rows", type=int, default=None, help="stop after this many new rows")
    o.add_argument("--no-progress", action="store_true")
    o.add_argument("--summary", metavar="TABLE", default=None,
                   help="print the summary of a table (name, .jsonl.gz or .jsonl recording)")
    o.add_argument("--json", action="store_true", help="with --summary: print JSON")
    d = p.add_argument_group("distributed (Optuna storage)")
    d.add_argument("--storage", default=None,
                   help="RDB URL (postgresql://...) or a journal file path")
    d.add_argument("--study-name", default=None)
    d.add_argument("--workers", type=int, default=1, help="local worker processes (0: none)")
    d.add_argument("--no-enqueue", action="store_true",
                   help="join as a worker only (the study was prepared elsewhere)")
    d.add_argument("--export", type=Path, default=None,
                   help="after the workers finish, export the study to this table file")
    p.set_defaults(func=run)


def _check_subset(name: str, values: Sequence[Any], allowed: Sequence[Any]) -> tuple[Any, ...]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise UserError(f"unknown {name} {bad}; choose from {list(allowed)}")
    return tuple(dict.fromkeys(values))


def _grid(args: argparse.Namespace) -> _space.Grid:
    try:
        return _space.Grid(
            models=_check_subset("models", args.models, _space.MODELS),
            backends=_check_subset("backends", args.backends, _space.BACKENDS),
            precisions=_check_subset("precisions", args.precisions, _space.PRECISIONS),
            batch_sizes=tuple(dict.fromkeys(args.batch_sizes)),
            threads=tuple(dict.fromkeys(args.threads)),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _settings(args: argparse.Namespace) -> ProfileSettings:
    for name in ("warmup", "passes", "accuracy_samples", "image_size", "abort_after"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            raise UserError(f"--{name.replace('_', '-')} is out of range: {getattr(args, name)}")
    if args.timeout_s <= 0:
        raise UserError(f"--timeout-s must be > 0, got {args.timeout_s}")
    if args.abort_factor < 0:
        raise UserError(f"--abort-factor must be >= 0, got {args.abort_factor}")
    cap = args.latency_cap_ms if args.latency_cap_ms is not None else (
        _space.loosest_latency_cap_ms())
    return ProfileSettings(
        device=args.device, warmup=args.warmup, passes=args.passes,
        abort_factor=args.abort_factor or None, latency_cap_ms=cap, timeout_s=args.timeout_s,
        memory_limit_mb=args.memory_limit_mb, image_size=args.image_size,
        data_dir=args.data_dir, accuracy_samples=args.accuracy_samples,
        weights_dir=args.weights_dir, abort_after=args.abort_after,
    )


def _summary(args: argparse.Namespace) -> int:
    target = str(args.summary)
    try:
        if target.endswith(".jsonl"):
            table = read_recording(target).to_table()
        else:
            table = load_table(resolve_table_path(target))
    except (TableFormatError, ValueError) as exc:
        raise UserError(str(exc)) from None
    summary = summarize(table)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def _distributed(args: argparse.Namespace, settings: ProfileSettings) -> int:
    if not args.study_name:
        raise UserError("--storage needs --study-name")
    if args.workers < 0:
        raise UserError(f"--workers must be >= 0, got {args.workers}")
    try:
        if not args.no_enqueue:
            n = prepare_study(args.storage, args.study_name, _grid(args), settings, args.repeats,
                              default_provenance(args.note, args.profiler),
                              first=parse_priority(args.first))
            print(f"enqueued {n} measurements in study {args.study_name!r}")
        failed = 0
        if args.workers > 0:
            resolve_profiler(args.profiler)  # fail fast here, not in every worker
            failed = run_workers(args.storage, args.study_name, args.profiler, args.workers)
        if args.export is not None:
            path = save_table(export_table(args.storage, args.study_name), args.export)
            print(f"exported {path}")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if failed:
        print(f"deploybench: {failed} worker(s) exited with an error", flush=True)
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point of ``deploybench record``."""
    if args.summary is not None:
        return _summary(args)
    if args.repeats < 1:
        raise UserError(f"--repeats must be >= 1, got {args.repeats}")
    if args.compact_every < 1:
        raise UserError(f"--compact-every must be >= 1, got {args.compact_every}")
    if args.compact_only:
        if args.out is None or args.compact_to is None:
            raise UserError("--compact-only needs --out RECORDING and --compact-to TABLE")
        try:
            save_table(read_recording(args.out).to_table(), args.compact_to)
        except TableFormatError as exc:
            raise UserError(str(exc)) from None
        print(f"compacted {args.out} -> {args.compact_to}")
        return 0
    settings = _settings(args)
    if args.storage is not None:
        return _distributed(args, settings)
    if args.out is None:
        raise UserError("give --out RECORDING.jsonl (or --storage URL --study-name NAME)")
    grid = _grid(args)
    try:
        first = parse_priority(args.first)
        quiet = None if args.max_other_load is None else QuietPolicy(
            args.max_other_load, retries=args.quiet_retries, max_wait_s=args.quiet_wait_s)
        profile_fn = resolve_profiler(args.profiler)
        contents = record(
            args.out, grid, settings, args.repeats, profile_fn,
            provenance=default_provenance(args.note, args.profiler),
            compact_to=args.compact_to, compact_every=args.compact_every,
            progress=not args.no_progress, max_rows=args.max_rows, first=first,
            session_info={"first": list(args.first)} if args.first else None,
            quiet=quiet,
        )
    except (TableFormatError, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(f"recorded {len(contents.rows)} rows in {args.out}")
    return 0
