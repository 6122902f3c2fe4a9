"""Per-run metrics computed from the finished trials of one study."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from optuna.trial import FrozenTrial, TrialState

from deploybench.problems import Problem

Direction = Literal["minimize", "maximize"]

#: One letter per trial in a trace: feasible complete, infeasible complete, FAIL, PRUNED,
#: anything else (running/waiting).
STATUS_FEASIBLE = "C"
STATUS_INFEASIBLE = "I"
STATUS_FAIL = "F"
STATUS_PRUNED = "P"
STATUS_OTHER = "R"


def trial_status(trial: FrozenTrial) -> str:
    """Classify a trial as one of the ``STATUS_*`` letters."""
    if trial.state == TrialState.FAIL:
        return STATUS_FAIL
    if trial.state == TrialState.PRUNED:
        return STATUS_PRUNED
    if trial.state != TrialState.COMPLETE:
        return STATUS_OTHER
    violations = trial.constraints.values()
    return STATUS_FEASIBLE if all(v <= 0.0 for v in violations) else STATUS_INFEASIBLE


def better(a: float, b: float, direction: Direction) -> bool:
    """True when ``a`` is strictly better than ``b``."""
    return a > b if direction == "maximize" else a < b


def normalised_regret(
    score: float | None, oracle: float, reference: float, direction: Direction
) -> float:
    """``(f* - f) / (f* - f_ref)`` oriented by ``direction`` and clipped to [0, 1].

    ``score`` None (nothing feasible found) gives 1. ``reference`` must be strictly worse
    than ``oracle``.
    """
    if score is None or not math.isfinite(score):
        return 1.0
    sign = 1.0 if direction == "maximize" else -1.0
    denom = sign * (oracle - reference)
    if not denom > 0:
        raise ValueError(f"reference {reference!r} must be worse than the oracle {oracle!r}")
    return float(min(max(sign * (oracle - score) / denom, 0.0), 1.0))


def _param_key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


@dataclasses.dataclass(frozen=True)
class RunMetrics:
    """What one run achieved (all fractions are over all ``n_trials`` trials).

    Attributes:
        best_observed: Best feasible observed value (None if nothing feasible).
        best_params: Parameters of that (recommended) trial.
        score: Noise-free truth of the recommended configuration when the problem has one,
            else ``best_observed``.
        regret: :func:`normalised_regret` of ``score`` (None when no reference is known).
        waste: Fraction of trials that crashed, were infeasible or were pruned.
        duplicate_fraction: Fraction of trials whose parameters equal an earlier trial's.
        first_feasible: Number (0-based position) of the first feasible trial, or None.
        overhead_ms_per_trial: Sampler wall time per trial in milliseconds.
        oracle_hit: For discrete problems, whether ``score`` equals the oracle (else None).
        recommended_feasibility: ``problem.feasibility_probability`` of the recommended
            configuration (None when unknown or nothing was feasible); below 1 when a noisy
            constraint made a sometimes-infeasible configuration look feasible.
        statuses: One ``STATUS_*`` letter per trial, in trial order.
        values: Observed value per trial (None unless COMPLETE).
        best_so_far: Best feasible observed value after each trial (None before any).
        phases: ``tba_phase`` user attribute per trial when a sampler writes it, else None.
        n_errors: FAIL trials caused by something other than a problem crash.
    """

    n_trials: int
    n_feasible: int
    n_infeasible: int
    n_fail: int
    n_pruned: int
    n_errors: int
    best_observed: float | None
    best_params: dict[str, Any] | None
    score: float | None
    regret: float | None
    waste: float
    duplicate_fraction: float
    first_feasible: int | None
    overhead_ms_per_trial: float
    oracle_hit: bool | None
    recommended_feasibility: float | None
    statuses: str
    values: list[float | None]
    best_so_far: list[float | None]
    phases: list[str | None] | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compute_metrics(
    trials: Sequence[FrozenTrial],
    problem: Problem,
    *,
    oracle: float,
    reference: float | None,
    sampler_seconds: float,
    oracle_tol: float = 1e-9,
) -> RunMetrics:
    """Summarise one finished study (``trials`` in any order) against ``problem``."""
    ordered = sorted(trials, key=lambda t: t.number)
    direction: Direction = problem.direction
    statuses = [trial_status(t) for t in ordered]
    values: list[float | None] = [
        float(t.value) if t.state == TrialState.COMPLETE and t.value is not None else None
        for t in ordered
    ]
    best: float | None = None
    best_trial: FrozenTrial | None = None
    best_so_far: list[float | None] = []
    for trial, status, value in zip(ordered, statuses, values):
        improves = value is not None and (best is None or better(value, best, direction))
        if status == STATUS_FEASIBLE and improves:
            best, best_trial = value, trial
        best_so_far.append(best)
    seen: set[tuple[tuple[str, str], ...]] = set()
    duplicates = 0
    for trial in ordered:
        key = _param_key(trial.params)
        if key in seen:
            duplicates += 1
        seen.add(key)
    score: float | None = None
    best_params: dict[str, Any] | None = None
    feasibility: float | None = None
    if best_trial is not None:
        best_params = dict(best_trial.params)
        truth = problem.truth(best_params)
        score = best if truth is None else float(truth)
        probability = problem.feasibility_probability(best_params)
        feasibility = None if probability is None else float(probability)
    n = len(ordered)
    n_waste = sum(s in (STATUS_INFEASIBLE, STATUS_FAIL, STATUS_PRUNED) for s in statuses)
    first = next((i for i, s in enumerate(statuses) if s == STATUS_FEASIBLE), None)
    phases: list[str | None] | None = [t.user_attrs.get("tba_phase") for t in ordered]
    if phases is not None and all(p is None for p in phases):
        phases = None
    regret = None if reference is None else normalised_regret(score, oracle, reference, direction)
    oracle_hit: bool | None = None
    if problem.discrete:
        oracle_hit = score is not None and abs(score - oracle) <= oracle_tol * max(1.0, abs(oracle))
    return RunMetrics(
        n_trials=n,
        n_feasible=statuses.count(STATUS_FEASIBLE),
        n_infeasible=statuses.count(STATUS_INFEASIBLE),
        n_fail=statuses.count(STATUS_FAIL),
        n_pruned=statuses.count(STATUS_PRUNED),
        n_errors=sum("harness_error" in t.user_attrs for t in ordered),
        best_observed=best,
        best_params=best_params,
        score=score,
        regret=regret,
        waste=n_waste / n if n else 0.0,
        duplicate_fraction=duplicates / n if n else 0.0,
        first_feasible=first,
        overhead_ms_per_trial=1e3 * sampler_seconds / n if n else 0.0,
        oracle_hit=oracle_hit,
        recommended_feasibility=feasibility,
        statuses="".join(statuses),
        values=values,
        best_so_far=best_so_far,
        phases=phases,
    )
