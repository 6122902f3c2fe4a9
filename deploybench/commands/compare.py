"""``deploybench compare``: benchmark samplers on crash-prone problems."""

from __future__ import annotations

import argparse
import json
import time
import warnings
from typing import Any

from deploybench.cli import UserError
from deploybench.compare import SamplerConfig, problem_info, run_comparison
from deploybench.problems import list_problems
from deploybench.samplers import SamplerSpecError, optuna_tba_available, resolve_sampler

BASE_SAMPLERS = ("random", "tpe", "tpe_prune", "gp", "qmc")

EPILOG = """\
examples:
  deploybench compare --samplers random tpe --problems crashy_branin --seeds 5 --budgets 25
  deploybench compare --samplers tba_hybrid tpe \\
      --sampler-kwargs 'tba_hybrid={"n_startup_trials": 3}'
  deploybench compare --samplers mine=my_pkg.samplers:MySampler --reference tpe

Samplers are built-in names (random, tpe, tpe_prune, gp, qmc, tba_hybrid, tba) or import paths
'module:Class'; 'LABEL=SPEC' gives a sampler a label (to compare one sampler with different
keyword arguments). In --sampler-kwargs a value "$budget" is replaced by the run's budget.
Each budget is a separate run. Rerunning the same command resumes: runs already in
OUT/runs.jsonl are skipped. Outputs: runs.jsonl (one row per run, with per-trial traces),
summary.md, summary.json, anytime_b<BUDGET>.png, waste.png.
"""


def default_samplers() -> list[str]:
    """The five Optuna baselines, plus tba_hybrid when optuna_tba imports."""
    names = list(BASE_SAMPLERS)
    if optuna_tba_available():
        names.insert(0, "tba_hybrid")
    return names


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare samplers on crash-prone benchmark problems",
        description=(
            "Run every sampler x problem x budget x seed as a fresh in-memory Optuna study "
            "and report normalised regret, waste, duplicates and sampler overhead."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--samplers",
        nargs="+",
        metavar="SPEC",
        help=f"samplers to compare (default: {' '.join(default_samplers())})",
    )
    parser.add_argument(
        "--sampler-kwargs",
        action="append",
        default=[],
        metavar="LABEL=JSON",
        help="constructor keyword arguments for one sampler, e.g. tpe='{\"n_startup_trials\": 5}'",
    )
    parser.add_argument(
        "--problems",
        nargs="+",
        metavar="NAME",
        help="problems (default: every built-in problem; see --list-problems)",
    )
    parser.add_argument(
        "--problem-kwargs",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="keyword arguments for one problem, e.g. hier_rosenbrock='{\"noise_scale\": 1}'",
    )
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument(
        "--budgets",
        nargs="+",
        type=int,
        default=[15, 25, 50],
        metavar="N",
        help="trial budgets (default: 15 25 50)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--out", default="compare-results", help="output directory (default compare-results)"
    )
    parser.add_argument(
        "--reference",
        help="sampler label for paired Wilcoxon tests (default tba_hybrid if compared, else tpe)",
    )
    parser.add_argument("--no-figures", action="store_true", help="do not write PNG figures")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--list-problems", action="store_true", help="print the known problems and exit"
    )
    parser.set_defaults(func=run)


def _parse_kwargs(items: list[str], option: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise UserError(f"{option} expects NAME=JSON, got {item!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{option} for {name!r}: invalid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise UserError(f"{option} for {name!r}: expected a JSON object, got {text!r}")
        out[name] = value
    return out


def _sampler_configs(specs: list[str], kwargs: dict[str, dict[str, Any]]) -> list[SamplerConfig]:
    configs: list[SamplerConfig] = []
    for spec in specs:
        label, sep, name = spec.partition("=")
        if not sep:
            label, name = spec, spec
        if not label or not name:
            raise UserError(f"bad sampler {spec!r}; use NAME or LABEL=NAME")
        configs.append(SamplerConfig(label, name, kwargs.get(label, {})))
    labels = [c.label for c in configs]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise UserError(f"sampler labels must be unique (repeated: {', '.join(duplicates)})")
    unknown = sorted(set(kwargs) - set(labels))
    if unknown:
        raise UserError(f"--sampler-kwargs for samplers not compared: {', '.join(unknown)}")
    for config in configs:  # fail fast on unknown samplers or bad keyword arguments
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                resolve_sampler(config.name).build(0, **config.kwargs_for(1))
        except SamplerSpecError as exc:
            raise UserError(str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise UserError(f"cannot build sampler {config.label!r}: {exc}") from None
    return configs


def run(args: argparse.Namespace) -> int:
    known = [p for p in list_problems() if not p.endswith("<...>")]
    if args.list_problems:
        print("\n".join(list_problems()))
        return 0
    if args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    if args.seed_start < 0:
        raise UserError(f"--seed-start must be >= 0, got {args.seed_start}")
    if any(b < 1 for b in args.budgets):
        raise UserError(f"--budgets must all be >= 1, got {args.budgets}")
    if args.jobs < 1:
        raise UserError(f"--jobs must be >= 1, got {args.jobs}")
    samplers = _sampler_configs(
        args.samplers or default_samplers(), _parse_kwargs(args.sampler_kwargs, "--sampler-kwargs")
    )
    problem_kwargs = _parse_kwargs(args.problem_kwargs, "--problem-kwargs")
    names = args.problems or known
    infos = []
    for name in names:
        try:
            infos.append(problem_info(name, problem_kwargs.get(name)))
        except KeyError as exc:
            raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise UserError(f"cannot build problem {name!r}: {exc}") from None
    unused = sorted(set(problem_kwargs) - set(names))
    if unused:
        raise UserError(f"--problem-kwargs for problems not compared: {', '.join(unused)}")
    labels = [s.label for s in samplers]
    reference = args.reference
    if reference is None:
        reference = next((r for r in ("tba_hybrid", "tpe") if r in labels), None)
    elif reference not in labels:
        raise UserError(
            f"--reference {reference!r} is not among the samplers ({', '.join(labels)})"
        )
    start = time.perf_counter()
    result = run_comparison(
        samplers,
        infos,
        seeds=range(args.seed_start, args.seed_start + args.seeds),
        budgets=args.budgets,
        out_dir=args.out,
        jobs=args.jobs,
        reference=reference,
        progress=not args.quiet,
        figures=not args.no_figures,
    )
    elapsed = time.perf_counter() - start
    print((result.files[1]).read_text(encoding="utf-8"))
    print(
        f"{result.n_ran} runs executed, {result.n_skipped} resumed from {result.files[0]} "
        f"in {elapsed:.1f} s; wrote {', '.join(str(f) for f in result.files)}"
    )
    return 0
