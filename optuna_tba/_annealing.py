"""Feasible-first simulated annealing, replayed from the stored trials.

The annealing state (current point, temperature, best feasible point, stagnation counter)
is not kept in memory between trials: :func:`replay` rebuilds it from the finished trials
in trial-number order, treating each as a proposed move. The Metropolis coin of trial
``n`` is a uniform number drawn from a generator seeded with ``n`` alone, so every worker
and every resumed sampler instance derives the same state.

Two stages:

* **Feasibility stage** (nothing feasible yet): minimise the unit-free total violation
  (see :mod:`optuna_tba._outcomes`). A move to a larger violation ``dV`` is accepted with
  probability ``exp(-dV / (T * s_V))``, ``s_V`` being the median violation seen.
* **Optimisation stage**: infeasible moves are rejected; a worse feasible move is accepted
  with probability ``exp(-dq / (0.3 T))`` where ``dq`` is the difference of the two values'
  empirical quantiles among the feasible values seen so far, the new value included
  (unit-free).

Crashes are never accepted. The temperature is multiplied by ``cooling`` after every move;
after ``reheat_after`` moves without improvement of the best point it is doubled (at least
0.3, at most the initial temperature) and the walk restarts from the best feasible point
(elite restart).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np

from optuna_tba._outcomes import Outcome, Record


@dataclasses.dataclass(frozen=True)
class AnnealingSchedule:
    initial_temperature: float = 1.0
    min_temperature: float = 0.02
    cooling: float = 0.9
    reheat_after: int = 6


@dataclasses.dataclass
class AnnealingState:
    current: Record | None = None
    best: Record | None = None
    temperature: float = 1.0
    stagnation: int = 0
    n_replayed: int = 0


@functools.lru_cache(maxsize=65536)
def coin(number: int) -> float:
    """The Metropolis uniform of trial ``number`` (identical in every process)."""
    return float(np.random.default_rng([0x7BA, number]).random())


def replay(recs: Sequence[Record], schedule: AnnealingSchedule) -> AnnealingState:
    """Rebuild the annealing state from finished records (trial-number order)."""
    st = AnnealingState(temperature=schedule.initial_temperature)
    feasible_values: list[float] = []
    violations: list[float] = []
    for r in recs:
        if r.outcome in (Outcome.RUNNING, Outcome.TRANSIENT):
            continue
        st.n_replayed += 1
        improved = False
        if r.outcome is Outcome.CRASH:
            pass
        elif r.outcome is Outcome.FEASIBLE and r.value is not None:
            if st.best is None or r.value < (
                st.best.value if st.best.value is not None else math.inf
            ):
                improved = True
            accept = _accept_feasible(st, r, feasible_values, coin(r.number))
            bisect.insort(feasible_values, r.value)
            if accept:
                st.current = r
            if improved:
                st.best = r
        elif st.best is None:  # feasibility stage: infeasible or pruned move
            if math.isfinite(r.violation):
                violations.append(r.violation)
            cur = st.current
            if cur is None or r.violation <= cur.violation:
                st.current = r
                improved = cur is None or r.violation < cur.violation
            else:
                scale = float(np.median(violations)) if violations else 1.0
                dv = (r.violation - cur.violation) / max(scale, 1e-12)
                if coin(r.number) < math.exp(-dv / max(st.temperature, 1e-9)):
                    st.current = r
        # Temperature schedule: geometric cooling per move; reheat and elite restart
        # after ``reheat_after`` moves without improvement.
        st.temperature = max(schedule.min_temperature, st.temperature * schedule.cooling)
        if improved:
            st.stagnation = 0
        else:
            st.stagnation += 1
            if st.stagnation >= schedule.reheat_after:
                st.temperature = min(max(2.0 * st.temperature, 0.3), schedule.initial_temperature)
                st.stagnation = 0
                if st.best is not None:
                    st.current = st.best
    return st


def _accept_feasible(st: AnnealingState, r: Record, feasible_values: list[float], u: float) -> bool:
    cur = st.current
    if cur is None or cur.outcome is not Outcome.FEASIBLE or cur.value is None:
        return True
    assert r.value is not None
    if r.value <= cur.value:
        return True
    # Empirical quantiles among the feasible values seen so far *and the new value*: with
    # the new value left out, a worse move with no earlier feasible value between it and
    # the current one had dq = 0 and was always accepted (e.g. every worse move while only
    # one feasible value was known).
    n = len(feasible_values) + 1
    dq = (
        bisect.bisect_right(feasible_values, r.value)
        + 1
        - bisect.bisect_right(feasible_values, cur.value)
    ) / n
    return u < math.exp(-dq / max(0.3 * st.temperature, 1e-9))
