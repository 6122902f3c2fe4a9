"""Compare Optuna samplers on crash-prone problems (``deploybench compare``).

Python API::

    from deploybench.compare import SamplerConfig, run_comparison

    result = run_comparison(
        [SamplerConfig("random", "random"), SamplerConfig("tpe", "tpe")],
        ["crashy_branin"], seeds=range(5), budgets=[25], out_dir="cmp", reference="tpe",
    )
    print(result.summary.cells[0]["regret_median"])
"""

from __future__ import annotations

from deploybench.compare._api import (
    RUNS_FILE,
    ComparisonResult,
    execute,
    plan_runs,
    problem_info,
    run_comparison,
)
from deploybench.compare._metrics import (
    STATUS_FAIL,
    STATUS_FEASIBLE,
    RunMetrics,
    compute_metrics,
    normalised_regret,
    trial_status,
)
from deploybench.compare._runner import ProblemInfo, RunSpec, SamplerConfig, run_one
from deploybench.compare._store import read_rows
from deploybench.compare._summary import (
    Summary,
    fallback_references,
    paired_wilcoxon,
    render_markdown,
    row_regret,
    summarise,
)
from deploybench.compare._timing import TimingSampler

__all__ = [
    "RUNS_FILE",
    "STATUS_FAIL",
    "STATUS_FEASIBLE",
    "ComparisonResult",
    "ProblemInfo",
    "RunMetrics",
    "RunSpec",
    "SamplerConfig",
    "Summary",
    "TimingSampler",
    "compute_metrics",
    "execute",
    "fallback_references",
    "normalised_regret",
    "paired_wilcoxon",
    "plan_runs",
    "problem_info",
    "read_rows",
    "render_markdown",
    "row_regret",
    "run_comparison",
    "run_one",
    "summarise",
    "trial_status",
]
