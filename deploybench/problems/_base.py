"""The interface every DeployBench problem implements.

A problem is an ordinary Optuna objective: ``study.optimize(problem, n_trials=...)``.
A crash is an exception (the trial becomes FAIL), constraints are reported with
:func:`deploybench._constraints.report_constraints` as relative violations, and the
objective value is returned.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Literal

import optuna


class ProblemCrash(RuntimeError):
    """Raised by a problem when the configuration crashes (the trial becomes FAIL)."""


class Problem(abc.ABC):
    """A crash-prone constrained optimisation problem.

    Attributes:
        name: Registry name, e.g. ``"crashy_branin"``.
        direction: ``"minimize"`` or ``"maximize"``.
        constraint_keys: Names of the constraints reported on each trial.
        discrete: True when the space is finite (oracle hit rate is meaningful).
    """

    name: str = "problem"
    direction: Literal["minimize", "maximize"] = "minimize"
    constraint_keys: tuple[str, ...] = ()
    discrete: bool = False

    @abc.abstractmethod
    def __call__(self, trial: optuna.Trial) -> float:
        """Suggest the space, evaluate, report constraints, return the value."""

    @abc.abstractmethod
    def oracle(self) -> float:
        """Best feasible noise-free objective value (computed, not guessed)."""

    def truth(self, params: Mapping[str, Any]) -> float | None:
        """Noise-free objective of a configuration, or None if it crashes.

        Default: problems without noise return None and the harness scores the
        observed value.
        """
        return None

    def feasibility_probability(self, params: Mapping[str, Any]) -> float | None:
        """Probability that one evaluation of ``params`` is feasible (None if unknown)."""
        return None
