"""The phase-2 portfolio: TPE proposals or annealing moves, and ``max_anneal_dims``
(in a high-dimensional space the handoff does not wait for failures, and phase 2 is TPE
alone for the first five trials per numerical parameter)."""

from __future__ import annotations

import collections
from typing import Any

import optuna
import pytest

from optuna_tba import TBAHybridSampler

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _arms(
    n_dims: int, n_trials: int = 40, branches: int = 1, **kwargs: Any
) -> collections.Counter[str]:
    """Phase-2 arms (system attribute ``tba:arm``) of a study on a smooth ``n_dims``-D
    problem; with ``branches`` > 1, a define-by-run space whose branches each have
    ``n_dims`` numerical parameters of their own."""

    def objective(trial: optuna.Trial) -> float:
        branch = trial.suggest_categorical("branch", list(range(branches)))
        xs = [trial.suggest_float(f"b{branch}_x{i}", -1.0, 1.0) for i in range(n_dims)]
        return sum((x - 0.3) ** 2 for x in xs)

    return collections.Counter(arm for _, arm in _arm_trace(objective, n_trials, **kwargs))


def _arm_trace(objective: Any, n_trials: int, **kwargs: Any) -> list[tuple[int, str]]:
    """``(trial number, arm)`` of the phase-2 trials of a sequential study."""
    sampler = TBAHybridSampler(seed=1, max_phase1_trials=6, p_repair=0.0, **kwargs)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return [
        (t.number, str(t.system_attrs.get("tba:arm"))) for t in study.trials
        if t.user_attrs.get("tba_phase") == "phase2"
    ]


def test_low_dimensional_spaces_use_both_arms() -> None:
    arms = _arms(3)
    assert arms["anneal"] > 0 and arms["tpe"] > 0


def test_high_dimensional_spaces_use_tpe_alone_in_phase_2() -> None:
    arms = _arms(12)
    assert arms["tpe"] > 0 and arms["anneal"] == 0
    # the threshold is the number of numerical parameters of one configuration
    assert _arms(9, max_anneal_dims=10)["anneal"] > 0
    assert _arms(9, max_anneal_dims=9)["anneal"] == 0
    # None keeps the annealing arm everywhere; an explicit p_anneal overrides the rule
    assert _arms(12, max_anneal_dims=None)["anneal"] > 0
    assert set(_arms(12, p_anneal=1.0)) == {"anneal"}


def test_the_portfolio_resumes_after_five_trials_per_dimension() -> None:
    def objective(trial: optuna.Trial) -> float:
        return sum((trial.suggest_float(f"x{i}", -1.0, 1.0) - 0.3) ** 2 for i in range(10))

    trace = _arm_trace(objective, n_trials=80)
    annealing = [number for number, arm in trace if arm == "anneal"]
    # trial 50 is the first decided with 5 * 10 finished trials in the history
    assert annealing and min(annealing) >= 50
    assert any(arm == "tpe" and number < 50 for number, arm in trace)


def test_the_dimension_is_per_configuration_not_the_union_of_branches() -> None:
    # three branches of 5 numerical parameters each: 15 in the union, 5 per configuration
    arms = _arms(5, n_trials=50, branches=3)
    assert arms["anneal"] > 0


def _first_phase2(n_dims: int, **kwargs: Any) -> tuple[int, str]:
    """Number and reason of the first phase-2 trial on a crash-free, constraint-free
    ``n_dims``-D problem (no failures ever)."""

    def objective(trial: optuna.Trial) -> float:
        return sum((trial.suggest_float(f"x{i}", -1.0, 1.0) - 0.3) ** 2 for i in range(n_dims))

    sampler = TBAHybridSampler(seed=2, max_phase1_trials=15, **kwargs)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=20)
    first = next(t for t in study.trials if t.user_attrs.get("tba_phase") == "phase2")
    return first.number, str(first.user_attrs.get("tba_reason"))


def test_high_dimensional_handoff_does_not_wait_for_failures() -> None:
    # 12 numerical parameters: hand off once min_phase1_trials (5) have finished feasibly
    number, reason = _first_phase2(12)
    assert number == 5
    assert "12 numerical parameters: no wait for failures" in reason
    # below the threshold, or with the rule switched off, phase 1 waits for two failures
    # that never come and runs to its limit
    assert _first_phase2(9)[0] == 15
    assert _first_phase2(12, max_anneal_dims=None)[0] == 15
    assert _first_phase2(9, max_anneal_dims=9)[0] == 5
    # the feasible-trial requirement still holds
    assert _first_phase2(12, handoff_min_feasible=7)[0] == 7


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_max_anneal_dims_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_anneal_dims"):
        TBAHybridSampler(max_anneal_dims=bad)  # type: ignore[arg-type]


def test_per_trial_draws_are_independent_of_neighbouring_trial_numbers() -> None:
    # ``p_repair`` (phase 2) and a fixed ``p_anneal`` compare one per-trial uniform draw with
    # the probability. The draws must not come in blocks of consecutive trial numbers (a
    # CRC32 of "seed:number:salt" did: with seed 14 trials 0-29 all drew below 0.4).
    one_sided = 0
    for seed in range(20):
        sampler = TBAHybridSampler(seed=seed)
        for salt in (7, 8):
            draws = [sampler._uniform(n, salt) for n in range(200)]
            assert all(0.0 <= u < 1.0 for u in draws)
            for start in range(0, 200, 10):
                below = sum(u < 0.4 for u in draws[start : start + 10])
                one_sided += below in (0, 10)
    # 800 blocks of 10; independent draws put all 10 on one side with probability
    # 0.4**10 + 0.6**10 = 0.0062, about 5 blocks
    assert one_sided < 20
