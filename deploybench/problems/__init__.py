"""Crash-prone benchmark problems and their registry.

Built-in synthetic problems: ``crashy_branin``, ``hier_rosenbrock``, ``family_band``,
``oom_grid``, ``conditional_pipeline`` and ``deploy_like``. Other packages add problems with
:func:`register_problem` (``"replay:"`` registers a prefix factory that receives full names
such as ``"replay:<table>:<scenario>"``).
"""

from __future__ import annotations

from typing import Any

from deploybench.problems._base import Problem, ProblemCrash
from deploybench.problems._registry import ProblemFactory, ProblemRegistry
from deploybench.problems._synthetic import Outcome, SyntheticProblem, UniformStats
from deploybench.problems.conditional_pipeline import ConditionalPipeline
from deploybench.problems.crashy_branin import CrashyBranin
from deploybench.problems.deploy_like import DeployLike
from deploybench.problems.family_band import FamilyBand
from deploybench.problems.hier_rosenbrock import HierRosenbrock
from deploybench.problems.noisy import NoisyBoundaryProblem
from deploybench.problems.oom_grid import OomGrid

__all__ = [
    "ConditionalPipeline",
    "CrashyBranin",
    "DeployLike",
    "FamilyBand",
    "HierRosenbrock",
    "NoisyBoundaryProblem",
    "OomGrid",
    "Outcome",
    "Problem",
    "ProblemCrash",
    "ProblemFactory",
    "ProblemRegistry",
    "SyntheticProblem",
    "UniformStats",
    "default_registry",
    "get_problem",
    "list_problems",
    "register_problem",
]



def _replay_problem(name: str, **kwargs: Any) -> Problem:
    """``replay:<table>:<scenario>``, imported lazily (``deploybench.tables`` imports us)."""
    from deploybench.tables import replay_problem

    return replay_problem(name, **kwargs)


#: The registry behind :func:`get_problem`; built-ins are registered at import.
default_registry = ProblemRegistry()
for _cls in (
    CrashyBranin,
    HierRosenbrock,
    FamilyBand,
    OomGrid,
    ConditionalPipeline,
    DeployLike,
    NoisyBoundaryProblem,
):
    default_registry.register(_cls.name, _cls)
default_registry.register("replay:", _replay_problem)


def register_problem(name: str, factory: ProblemFactory, *, replace: bool = False) -> None:
    """Register a problem factory (``factory(**kwargs) -> Problem``).

    A name ending in ``:`` registers a prefix: ``factory(full_name, **kwargs)`` then serves
    every name that starts with it (used for ``replay:<table>:<scenario>``).
    """
    default_registry.register(name, factory, replace=replace)


def get_problem(name: str, **kwargs: Any) -> Problem:
    """Build a fresh problem by name (``KeyError`` with the known names if unknown)."""
    return default_registry.get(name, **kwargs)


def list_problems() -> list[str]:
    """Registered problem names (prefix factories shown as ``prefix<...>``)."""
    return default_registry.names()
