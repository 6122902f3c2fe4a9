"""The annealing state replayed from records: acceptance, crashes and the reheat rule."""

from __future__ import annotations

import math

import pytest

from optuna_tba._annealing import AnnealingSchedule, AnnealingState, _accept_feasible, replay
from optuna_tba._outcomes import Outcome, Record


def _feasible(number: int, value: float) -> Record:
    return Record(number, {"x": number}, Outcome.FEASIBLE, value, 0.0, None)


def _crash(number: int) -> Record:
    return Record(number, {"x": number}, Outcome.CRASH, None, math.inf, None)


def test_a_worse_move_is_judged_by_its_own_rank() -> None:
    """With one feasible value known, a worse move sits one full quantile above it.

    Leaving the new value out of the quantiles gave dq = 0 here, so every worse second
    feasible value was accepted whatever the temperature.
    """
    state = AnnealingState(current=_feasible(0, 1.0), temperature=0.1)
    worse = _feasible(1, 2.0)
    # dq = 1/2; at T = 0.1 the acceptance probability is exp(-0.5 / 0.03) ~ 6e-8.
    assert not _accept_feasible(state, worse, [1.0], u=0.01)
    assert _accept_feasible(state, _feasible(2, 0.5), [1.0], u=0.99)  # better: always


@pytest.mark.parametrize("u, accepted", [(0.15, True), (0.25, False)])
def test_acceptance_probability_is_exp_of_the_quantile_gap(u: float, accepted: bool) -> None:
    values = [1.0, 2.0, 3.0]  # the current value is 1.0; the move lands between 2 and 3
    state = AnnealingState(current=_feasible(0, 1.0), temperature=1.0)
    # With the new value: ranks 1 (current) and 3 of 4, dq = 2/4, p = exp(-0.5/0.3) = 0.19.
    assert _accept_feasible(state, _feasible(5, 2.5), values, u=u) is accepted


def test_crashes_are_never_accepted_and_the_best_is_kept() -> None:
    recs = [_feasible(0, 3.0), _crash(1), _feasible(2, 1.0), _crash(3)]
    state = replay(recs, AnnealingSchedule())
    assert state.best is not None and state.best.number == 2
    assert state.current is not None and state.current.outcome is Outcome.FEASIBLE


def test_stagnation_reheats_and_restarts_from_the_best() -> None:
    schedule = AnnealingSchedule(initial_temperature=1.0, cooling=0.5, reheat_after=3)
    recs = [_feasible(0, 1.0), _crash(1), _crash(2), _crash(3)]
    state = replay(recs, schedule)
    # 1.0 -> 0.5 (improvement) -> 0.25 -> 0.125 -> 0.0625, then the third move without
    # improvement reheats: doubled, but at least 0.3.
    assert state.temperature == pytest.approx(0.3)
    assert state.current is not None and state.current.number == 0
    assert state.stagnation == 0
