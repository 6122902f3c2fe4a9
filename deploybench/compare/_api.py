"""Plan, execute (in parallel, resumable) and summarise a sampler comparison."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deploybench._parent import exit_with_parent
from deploybench.compare._figures import plot_anytime, plot_waste
from deploybench.compare._runner import ProblemInfo, RunSpec, SamplerConfig, run_one
from deploybench.compare._store import append_row, read_rows, repair_tail
from deploybench.compare._summary import Summary, render_markdown, summarise
from deploybench.problems import get_problem

RUNS_FILE = "runs.jsonl"


def problem_info(name: str, kwargs: Mapping[str, Any] | None = None) -> ProblemInfo:
    """Build a problem once and compute its oracle and regret reference."""
    kwargs = dict(kwargs or {})
    problem = get_problem(name, **{"seed": 0, **kwargs})
    reference_fn = getattr(problem, "reference_value", None)
    reference = float(reference_fn()) if callable(reference_fn) else None
    return ProblemInfo(
        name=name,
        kwargs=kwargs,
        direction=problem.direction,
        discrete=bool(problem.discrete),
        oracle=float(problem.oracle()),
        reference=reference,
    )


def plan_runs(
    samplers: Sequence[SamplerConfig],
    problems: Sequence[ProblemInfo],
    seeds: Sequence[int],
    budgets: Sequence[int],
) -> list[RunSpec]:
    """Every sampler x problem x budget x seed, budgets run separately (no prefix reuse)."""
    labels = [s.label for s in samplers]
    if len(set(labels)) != len(labels):
        raise ValueError(f"sampler labels must be unique, got {labels}")
    if not samplers or not problems or not seeds or not budgets:
        raise ValueError("need at least one sampler, problem, seed and budget")
    for budget in budgets:
        if int(budget) < 1:
            raise ValueError(f"budgets must be >= 1, got {budget}")
    return [
        RunSpec(sampler=s, problem=p, budget=int(b), seed=int(seed))
        for b in budgets
        for p in problems
        for s in samplers
        for seed in seeds
    ]


@dataclasses.dataclass
class ComparisonResult:
    """Rows of the requested runs (old and new), the summary and the files written."""

    rows: list[dict[str, Any]]
    n_ran: int
    n_skipped: int
    summary: Summary
    files: list[Path]


def execute(
    specs: Sequence[RunSpec], runs_path: Path, *, jobs: int = 2, progress: bool = True
) -> tuple[int, int]:
    """Run the specs not yet in ``runs_path`` and append their rows. Returns (ran, skipped)."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    repair_tail(runs_path)
    done = {row.get("key") for row in read_rows(runs_path)}
    todo = [s for s in specs if s.key not in done]
    bar = tqdm(total=len(todo), desc="compare", unit="run", disable=not progress)
    try:
        if jobs == 1 or len(todo) <= 1:
            for spec in todo:
                append_row(runs_path, run_one(spec))
                bar.update()
        else:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                jobs, mp_context=ctx, initializer=exit_with_parent, initargs=(os.getpid(),)
            ) as pool:
                futures = [pool.submit(run_one, spec) for spec in todo]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        append_row(runs_path, future.result())
                        bar.update()
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        bar.close()
    return len(todo), len(specs) - len(todo)


def run_comparison(
    samplers: Sequence[SamplerConfig],
    problems: Sequence[str | ProblemInfo],
    seeds: Sequence[int],
    budgets: Sequence[int],
    out_dir: str | Path,
    *,
    jobs: int = 2,
    reference: str | None = None,
    progress: bool = True,
    figures: bool = True,
) -> ComparisonResult:
    """Run (or resume) a comparison and write ``runs.jsonl``, ``summary.md``,
    ``summary.json`` and PNG figures into ``out_dir``.

    Args:
        samplers: Samplers to compare (unique labels).
        problems: Problem names or precomputed :class:`ProblemInfo`.
        seeds: Seeds; each seeds the sampler and the problem's noise.
        budgets: Trial budgets; each budget is a separate run.
        out_dir: Output directory (created if needed).
        jobs: Worker processes (1 runs in this process).
        reference: Sampler label for the paired tests (None: no tests).
        progress: Show a tqdm progress bar.
        figures: Write the PNG figures.
    """
    infos = [p if isinstance(p, ProblemInfo) else problem_info(p) for p in problems]
    specs = plan_runs(samplers, infos, seeds, budgets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs_path = out / RUNS_FILE
    n_ran, n_skipped = execute(specs, runs_path, jobs=jobs, progress=progress)
    wanted = {s.key for s in specs}
    rows: dict[str, dict[str, Any]] = {}
    for row in read_rows(runs_path):
        if row.get("key") in wanted:
            rows[row["key"]] = row
    ordered = [rows[s.key] for s in specs if s.key in rows]
    summary = summarise(ordered, reference=reference)
    files = [runs_path, out / "summary.md", out / "summary.json"]
    (out / "summary.md").write_text(render_markdown(summary), encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(summary.to_dict(), indent=1, sort_keys=True), encoding="utf-8"
    )
    if figures:
        for budget in summary.budgets:
            files.append(plot_anytime(ordered, budget, out / f"anytime_b{budget}.png"))
        files.append(plot_waste(ordered, out / "waste.png"))
    return ComparisonResult(ordered, n_ran, n_skipped, summary, files)
