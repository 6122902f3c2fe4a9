"""``constraints_func`` works as with Optuna's own samplers (drop-in for a TPESampler)."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
import pytest

from optuna_tba import TBAHybridSampler, TBASampler
from optuna_tba._outcomes import Outcome, records


def _run(cls: type[TBASampler], use_func: bool) -> optuna.Study:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        c = trial.suggest_categorical("c", ["a", "b", "boom"])
        if c == "boom":
            raise RuntimeError("crash")
        if not use_func:
            trial.set_constraint("0", x - 0.3)
        return x + (0.1 if c == "b" else 0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        kwargs: dict[str, Any] = (
            {"constraints_func": lambda t: [t.params["x"] - 0.3]} if use_func else {}
        )
        sampler = cls(seed=3, **kwargs)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=25, catch=(RuntimeError,))
    return study


@pytest.mark.parametrize("cls", [TBAHybridSampler, TBASampler])
def test_constraints_func_marks_infeasible_trials(cls: type[TBASampler]) -> None:
    study = _run(cls, use_func=True)
    recs = records(study.trials, study.direction)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and any(t.params["x"] > 0.3 for t in complete)
    for t, r in zip(study.trials, recs):
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert list(t.constraints.values()) == [pytest.approx(t.params["x"] - 0.3)]
            expected = Outcome.INFEASIBLE if t.params["x"] > 0.3 else Outcome.FEASIBLE
            assert r.outcome is expected
        else:
            assert r.outcome is Outcome.CRASH


@pytest.mark.parametrize("cls", [TBAHybridSampler, TBASampler])
def test_constraints_func_is_equivalent_to_set_constraint(cls: type[TBASampler]) -> None:
    by_func = [t.params for t in _run(cls, use_func=True).trials]
    by_trial = [t.params for t in _run(cls, use_func=False).trials]
    assert by_func == by_trial


def test_constraints_func_warns_like_optuna_and_validates() -> None:
    with pytest.warns(FutureWarning, match="constraints_func"):
        TBAHybridSampler(constraints_func=lambda t: [0.0])
    with pytest.raises(ValueError, match="constraints_func must be callable"):
        TBAHybridSampler(constraints_func=3)  # type: ignore[arg-type]
