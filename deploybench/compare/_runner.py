"""One benchmark run: a fresh in-memory study, one sampler, one problem, one seed, one budget."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import time
import warnings
from collections.abc import Mapping
from typing import Any

import optuna

from deploybench.compare._metrics import compute_metrics
from deploybench.compare._timing import TimingSampler
from deploybench.problems import Problem, ProblemCrash, get_problem
from deploybench.samplers import resolve_sampler

#: A sampler keyword value equal to this string is replaced by the run's budget.
BUDGET_PLACEHOLDER = "$budget"


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """A sampler as the comparison names it.

    Attributes:
        label: Name used in tables and figures (unique within a comparison).
        name: Built-in sampler name or ``module:Class`` for :func:`resolve_sampler`.
        kwargs: Extra constructor keyword arguments (``"$budget"`` values become the budget).
    """

    label: str
    name: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def kwargs_for(self, budget: int) -> dict[str, Any]:
        return {k: budget if v == BUDGET_PLACEHOLDER else v for k, v in self.kwargs.items()}


@dataclasses.dataclass(frozen=True)
class ProblemInfo:
    """Facts about a problem computed once in the parent process."""

    name: str
    kwargs: Mapping[str, Any]
    direction: str
    discrete: bool
    oracle: float
    reference: float | None


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs for one run (picklable)."""

    sampler: SamplerConfig
    problem: ProblemInfo
    budget: int
    seed: int
    #: Threads torch may use in the worker (None: leave torch's default). Applied only when
    #: the sampler is ``gp`` or torch is already imported; not part of :attr:`key`.
    torch_threads: int | None = 1

    @property
    def key(self) -> str:
        """Identity used to resume: sampler label + kwargs, problem + kwargs, budget, seed."""
        return json.dumps(
            [
                self.sampler.label,
                self.sampler.name,
                dict(self.sampler.kwargs),
                self.problem.name,
                dict(self.problem.kwargs),
                self.budget,
                self.seed,
            ],
            sort_keys=True,
        )


def build_problem(name: str, kwargs: Mapping[str, Any], seed: int) -> Problem:
    """Build a problem; its ``seed`` (observation noise) is the run seed unless given."""
    return get_problem(name, **{"seed": seed, **dict(kwargs)})


def _objective(problem: Problem, prune_crashes: bool) -> Any:
    def objective(trial: optuna.Trial) -> float:
        try:
            return problem(trial)
        except ProblemCrash:
            if prune_crashes:
                raise optuna.TrialPruned() from None
            raise
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("harness_error", f"{type(exc).__name__}: {exc}"[:500])
            raise

    return objective


def _limit_torch_threads(spec: RunSpec) -> None:
    """Keep torch (GPSampler) to ``spec.torch_threads`` so ``--jobs N`` uses about N cores.

    On a loaded 2-core machine, a budget-25 GP run took 143 s wall / 28 s CPU with torch's
    default 2 threads and 69 s wall / 15 s CPU with one thread.
    """
    if spec.torch_threads is None:
        return
    if "torch" not in sys.modules and not (
        spec.sampler.name == "gp" and importlib.util.find_spec("torch") is not None
    ):
        return
    import torch

    torch.set_num_threads(spec.torch_threads)


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Run one study and return its result row (JSON-serialisable)."""
    _limit_torch_threads(spec)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler_spec = resolve_sampler(spec.sampler.name)
    inner = sampler_spec.build(spec.seed, **spec.sampler.kwargs_for(spec.budget))
    sampler = TimingSampler(inner)
    problem = build_problem(spec.problem.name, spec.problem.kwargs, spec.seed)
    study = optuna.create_study(direction=problem.direction, sampler=sampler)
    start = time.perf_counter()
    study.optimize(
        _objective(problem, sampler_spec.prune_crashes),
        n_trials=spec.budget,
        catch=(Exception,),
        gc_after_trial=False,
    )
    wall = time.perf_counter() - start
    metrics = compute_metrics(
        study.get_trials(deepcopy=False),
        problem,
        oracle=spec.problem.oracle,
        reference=spec.problem.reference,
        sampler_seconds=sampler.seconds,
    )
    return {
        "key": spec.key,
        "sampler": spec.sampler.label,
        "sampler_name": spec.sampler.name,
        "sampler_kwargs": dict(spec.sampler.kwargs),
        "problem": spec.problem.name,
        "problem_kwargs": dict(spec.problem.kwargs),
        "budget": spec.budget,
        "seed": spec.seed,
        "direction": spec.problem.direction,
        "discrete": spec.problem.discrete,
        "oracle": spec.problem.oracle,
        "reference": spec.problem.reference,
        "wall_s": wall,
        "sampler_s": sampler.seconds,
        "optuna_version": optuna.__version__,
        **metrics.to_dict(),
    }
