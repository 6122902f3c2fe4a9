"""Sampler registry shared by ``deploybench compare`` and ``deploybench optimize``.

Samplers are referred to by a built-in name or by an import path ``module:Class``.
``deploybench`` never imports ``optuna_tba`` at module level: the ``tba_hybrid`` and
``tba`` entries are resolved lazily and only if that package is installed.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Callable
from typing import Any

import optuna

BUILTIN_SAMPLERS: tuple[str, ...] = ("random", "tpe", "tpe_prune", "gp", "qmc", "tba_hybrid", "tba")


class SamplerSpecError(ValueError):
    """An unknown or unusable sampler specification."""


@dataclasses.dataclass(frozen=True)
class SamplerSpec:
    """A resolved sampler: how to build it and how to treat crashes.

    Attributes:
        name: The name given by the user.
        factory: ``factory(seed, **kwargs) -> BaseSampler``.
        prune_crashes: When True the objective re-raises crashes as ``TrialPruned``
            (the documented user work-around for TPE, ``tpe_prune``).
    """

    name: str
    factory: Callable[..., optuna.samplers.BaseSampler]
    prune_crashes: bool = False

    def build(self, seed: int | None, **kwargs: Any) -> optuna.samplers.BaseSampler:
        try:
            return self.factory(seed=seed, **kwargs)
        except TypeError as exc:
            raise SamplerSpecError(f"cannot build sampler {self.name!r}: {exc}") from exc


def optuna_tba_available() -> bool:
    """True when the optional ``optuna_tba`` package can be imported."""
    try:
        importlib.import_module("optuna_tba")
    except ImportError:
        return False
    return True


def _from_path(path: str) -> Callable[..., optuna.samplers.BaseSampler]:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise SamplerSpecError(f"sampler path must look like 'module:Class', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SamplerSpecError(
            f"cannot import {module_name!r} for sampler {path!r}: {exc}"
        ) from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise SamplerSpecError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise SamplerSpecError(f"{path!r} is not callable")
    return obj  # type: ignore[no-any-return]


def _tba(cls_name: str, seed: int | None, **kwargs: Any) -> optuna.samplers.BaseSampler:
    module = importlib.import_module("optuna_tba")
    cls = getattr(module, cls_name)
    return cls(seed=seed, **kwargs)  # type: ignore[no-any-return]


def resolve_sampler(name: str) -> SamplerSpec:
    """Resolve a built-in name or ``module:Class`` into a :class:`SamplerSpec`."""
    if name == "random":
        return SamplerSpec(name, optuna.samplers.RandomSampler)
    if name == "tpe":
        return SamplerSpec(name, optuna.samplers.TPESampler)
    if name == "tpe_prune":
        return SamplerSpec(name, optuna.samplers.TPESampler, prune_crashes=True)
    if name == "gp":
        return SamplerSpec(name, optuna.samplers.GPSampler)
    if name == "qmc":
        return SamplerSpec(name, functools.partial(optuna.samplers.QMCSampler, scramble=True))
    if name in ("tba_hybrid", "tba"):
        if not optuna_tba_available():
            raise SamplerSpecError(f"sampler {name!r} needs the optuna_tba package installed")
        cls_name = "TBAHybridSampler" if name == "tba_hybrid" else "TBASampler"
        return SamplerSpec(name, functools.partial(_tba, cls_name))
    if ":" in name:
        return SamplerSpec(name, _from_path(name))
    raise SamplerSpecError(
        f"unknown sampler {name!r}; built-ins are {', '.join(BUILTIN_SAMPLERS)} "
        "or give an import path 'module:Class'"
    )


def default_sampler_name() -> str:
    """``tba_hybrid`` when ``optuna_tba`` is installed, else ``tpe``."""
    return "tba_hybrid" if optuna_tba_available() else "tpe"
