"""Tests of the OptunaHub package, loaded the way OptunaHub loads it (offline)."""

from __future__ import annotations

import os
from types import ModuleType

import optuna
import optunahub
import pytest

REGISTRY_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _load() -> ModuleType:
    return optunahub.load_local_module(package="samplers/tba_hybrid", registry_root=REGISTRY_ROOT)


def test_reexports_the_installed_sampler() -> None:
    import optuna_tba

    module = _load()
    assert module.TBAHybridSampler is optuna_tba.TBAHybridSampler
    assert issubclass(module.TBAHybridSampler, optuna.samplers.BaseSampler)


def test_runs_a_crash_prone_study() -> None:
    module = _load()

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -5.0, 5.0)
        kind = trial.suggest_categorical("kind", ["a", "b", "crash"])
        if kind == "crash":
            raise RuntimeError("crash")
        trial.set_constraint("limit", x - 3.0)
        return (x - 1.0) ** 2

    study = optuna.create_study(sampler=module.TBAHybridSampler(seed=0))
    study.optimize(objective, n_trials=20, catch=(RuntimeError,))
    assert len(study.trials) == 20
    assert study.best_trial.constraints["limit"] <= 0.0


def test_survives_an_all_failing_objective() -> None:
    module = _load()

    def always_crashes(trial: optuna.Trial) -> float:
        trial.suggest_int("n", 1, 100)
        trial.suggest_categorical("c", ["x", "y"])
        raise ValueError("always crashes")

    study = optuna.create_study(sampler=module.TBAHybridSampler(seed=0))
    study.optimize(always_crashes, n_trials=8, catch=(ValueError,))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 8
    # every crashed trial got its parameters from the sampler
    assert all(set(t.params) == {"n", "c"} for t in study.trials)
    with pytest.raises(ValueError):
        _ = study.best_trial
