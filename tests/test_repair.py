"""Repair moves stop before feasibility when they do not work (``min_repair_success``).

A repair move steps an infeasible high-value trial towards the constraint boundary with a
linear fit of the constraint margin. Where the margin is far from linear (a small
box-shaped feasible region) the steps miss, and before anything is feasible every repair
is a trial not spent on finding feasibility. The rule: while nothing is feasible, once at
least 3 repairs have finished and ``(1 + s) / (2 + s + f)`` is below
``min_repair_success``, no more repair moves.
"""

from __future__ import annotations

from typing import Any

import optuna
import pytest
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from optuna_tba import TBAHybridSampler, TBASampler
from optuna_tba._base import REPAIR_KEY

SPACE: dict[str, BaseDistribution] = {
    "x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}


def never_feasible(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    trial.set_constraint("limit", 0.2 + x)  # always violated
    return -(x + y)


def seeded_study(sampler: optuna.samplers.BaseSampler, repair_violations: list[float]) -> Any:
    """Six infeasible trials, then repairs of trial 0 (violation 0.5) with the given
    violations (smaller than 0.5 = the repair worked)."""
    study = optuna.create_study(sampler=sampler)
    points = [(0.3, 0.9), (0.1, 0.2), (0.5, 0.5), (0.2, 0.1), (0.6, 0.3), (0.4, 0.6)]
    for x, y in points:
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": x, "y": y}, distributions=SPACE, value=-(x + y),
                system_attrs={"constraints": [0.2 + x]},
            )
        )
    for i, v in enumerate(repair_violations):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": v - 0.2, "y": 0.9 - 0.01 * i}, distributions=SPACE,
                value=-(v - 0.2 + 0.9), system_attrs={"constraints": [v], REPAIR_KEY: 0},
            )
        )
    return study


def n_new_repairs(study: optuna.Study, start: int) -> int:
    return sum(REPAIR_KEY in t.system_attrs for t in study.trials[start:])


SAMPLERS = {
    "tba": lambda **kw: TBASampler(seed=1, **kw),
    "hybrid": lambda **kw: TBAHybridSampler(seed=1, max_phase1_trials=10, **kw),
}


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_failed_repairs_stop_repairing_before_feasibility(kind: str) -> None:
    failed = [0.7, 0.8, 0.9]  # every repair ended further from feasibility than its target
    off = seeded_study(SAMPLERS[kind](min_repair_success=0.0), failed)
    off.optimize(never_feasible, n_trials=30)
    assert n_new_repairs(off, 9) > 0  # without the rule the sampler keeps repairing
    on = seeded_study(SAMPLERS[kind](), failed)
    on.optimize(never_feasible, n_trials=30)
    assert n_new_repairs(on, 9) == 0


@pytest.mark.parametrize("kind", list(SAMPLERS))
def test_working_repairs_go_on(kind: str) -> None:
    study = seeded_study(SAMPLERS[kind](), [0.3, 0.35, 0.45])  # all less violated than 0.5
    study.optimize(never_feasible, n_trials=30)
    assert n_new_repairs(study, 9) > 0


def _history(study: optuna.Study) -> Any:
    sampler = TBASampler(seed=0)
    trial = study.ask()
    return sampler._history(study, study._storage.get_trial(trial._trial_id))


def test_rule_counts_only_before_the_first_feasible_trial() -> None:
    study = seeded_study(TBASampler(seed=0), [0.7, 0.8, 0.9])
    assert _history(study).repairs_not_working(0.25)
    assert not _history(study).repairs_not_working(0.0)  # 0 disables the rule
    assert not _history(study).repairs_not_working(0.2)  # (1 + 0) / (2 + 3) = 0.2
    study.add_trial(
        optuna.trial.create_trial(
            params={"x": 0.0, "y": 0.0}, distributions=SPACE, value=0.0,
            system_attrs={"constraints": [-0.1]},
        )
    )
    assert not _history(study).repairs_not_working(0.25)


def test_fewer_than_three_finished_repairs_never_stop_repairing() -> None:
    assert not _history(seeded_study(TBASampler(seed=0), [0.9, 0.9])).repairs_not_working(0.9)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.3", None])
def test_min_repair_success_is_validated(bad: Any) -> None:
    with pytest.raises(ValueError, match="min_repair_success"):
        TBASampler(min_repair_success=bad)
    with pytest.raises(ValueError, match="min_repair_success"):
        TBAHybridSampler(min_repair_success=bad)


# --------------------------------------------------------------------------------------
# A limit that only the categorical values decide (a model's accuracy floor) cannot be
# repaired by numerical moves; such a target is skipped once the history shows it.

CAT_SPACE: dict[str, BaseDistribution] = {
    "model": CategoricalDistribution(["small", "big"]),
    "batch": FloatDistribution(0.0, 1.0),
    "seq": FloatDistribution(0.0, 1.0),
}


def floor_study(small: list[tuple[float, float, float]]) -> optuna.Study:
    """Feasible "big" trials with poor values, then infeasible "small" trials with better
    values, one per ``(batch, seq, constraint value)``."""
    sampler = TBASampler(seed=3, p_repair=1.0, p_explore=0.0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for b in (0.2, 0.5, 0.8):
        study.add_trial(optuna.trial.create_trial(
            params={"model": "big", "batch": b, "seq": b}, distributions=CAT_SPACE, value=b,
            system_attrs={"constraints": [-0.1]}))
    for b, q, m in small:
        study.add_trial(optuna.trial.create_trial(
            params={"model": "small", "batch": b, "seq": q}, distributions=CAT_SPACE,
            value=5.0 + b, system_attrs={"constraints": [m]}))
    return study


def repair_targets(study: optuna.Study, n: int) -> list[int]:
    start = len(study.trials)
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    new = study.trials[start:]
    return [t.system_attrs[REPAIR_KEY] for t in new if REPAIR_KEY in t.system_attrs]


def test_a_margin_the_numbers_do_not_change_is_not_repaired() -> None:
    # Every numerical parameter has taken two values and the violation never moved: the
    # floor depends on the model alone, so no repair move targets these trials.
    assert repair_targets(floor_study([(0.3, 0.3, 0.08), (0.5, 0.6, 0.08)]), 1) == []


def test_a_margin_that_moves_with_the_numbers_is_repaired() -> None:
    # The control: the violation differs between the two, so repairs go on (trial 3 is
    # the better-valued one within the median violation).
    assert repair_targets(floor_study([(0.3, 0.3, 0.08), (0.5, 0.6, 0.12)]), 1) == [3]


def test_a_parameter_never_varied_keeps_the_target_repairable() -> None:
    # Only ``batch`` was varied; ``seq`` may still move the margin, so repairs go on.
    assert repair_targets(floor_study([(0.3, 0.4, 0.08), (0.5, 0.4, 0.08)]), 1) == [4]


# --------------------------------------------------------------------------------------
# In a space without numerical parameters a repair changes one categorical value: the one
# the history predicts to lower the violation most while keeping the target's value above
# the best feasible value.

DEPLOY_SPACE: dict[str, CategoricalDistribution] = {
    "model": CategoricalDistribution(["small", "big"]),
    "backend": CategoricalDistribution(["slow", "fast", "medium"]),
    "precision": CategoricalDistribution(["fp32", "int8"]),
}
ACCURACY = {"small": 0.70, "big": 0.80}
LATENCY = {"slow": 3.0, "medium": 1.5, "fast": 1.0}


def deploy_study(configs: list[tuple[str, str, str]]) -> optuna.Study:
    """Replayed trials: accuracy from the model, relative latency violation from the
    model, backend and precision ("big" is twice as slow, int8 halves the latency)."""
    sampler = TBASampler(seed=5, p_repair=1.0, p_explore=0.0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for model, backend, precision in configs:
        latency = LATENCY[backend] * (2.0 if model == "big" else 1.0)
        latency *= 0.5 if precision == "int8" else 1.0
        study.add_trial(optuna.trial.create_trial(
            params={"model": model, "backend": backend, "precision": precision},
            distributions=dict(DEPLOY_SPACE), value=ACCURACY[model],
            system_attrs={"constraints": [latency - 1.0]}))
    return study


def test_a_categorical_repair_takes_the_change_the_history_predicts_to_help() -> None:
    study = deploy_study([
        ("small", "fast", "fp32"),    # 0: feasible (latency 1.0), accuracy 0.70
        ("small", "slow", "fp32"),    # 1: violation 2.0
        ("small", "medium", "int8"),  # 2: feasible (0.75)
        ("big", "medium", "fp32"),    # 3: violation 2.0, accuracy 0.80: the target
        ("big", "slow", "int8"),      # 4: violation 2.0
    ])
    start = len(study.trials)
    trial = study.ask()
    for name, dist in DEPLOY_SPACE.items():
        trial.suggest_categorical(name, list(dist.choices))
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    repair = study.trials[start]
    assert repair.system_attrs[REPAIR_KEY] == 3
    assert "predicted to lower the violation" in repair.user_attrs["tba_reason"]
    # "fast" has the lowest mean violation of the backends, int8 is lower than fp32 but
    # (big, medium, int8) is predicted worse than the backend change; the model stays big
    # because "small" is predicted to lose the target's advantage in accuracy.
    assert repair.params == {"model": "big", "backend": "fast", "precision": "fp32"}
