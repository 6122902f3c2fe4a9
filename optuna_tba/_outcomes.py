"""Reading what happened to each trial: feasible, infeasible, crashed, transient, pruned.

Everything the samplers decide starts here, from the trials stored in the study.

* COMPLETE with every constraint ``<= 0`` is **feasible**.
* COMPLETE with a positive constraint is **infeasible**.
* PRUNED is an aborted evaluation and counts as **infeasible**.
* FAIL is a **crash** (deterministic) unless the objective declared it **transient**
  (see :func:`mark_transient` and :class:`TransientFailure`).

Constraint values in different units are never added raw. Each constraint key is divided
by its own scale, the median of that key's positive values in the history (1.0 when the
key has never been violated), before violations are summed. Objective authors should report
relative violations (``measured / cap - 1``), which makes every scale close to one.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

#: User attribute that marks a FAIL trial as transient (its configuration may be retried
#: and it does not count against blacklists). Any package may set it without importing
#: ``optuna_tba``.
TRANSIENT_ATTR = "transient_failure"

_LEGACY_KEY = "constraints"
_PREFIX = "constraints:"


class Outcome(enum.Enum):
    """What a finished (or running) trial tells the sampler."""

    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    PRUNED = "pruned"
    CRASH = "crash"
    TRANSIENT = "transient"
    RUNNING = "running"

    @property
    def is_crash(self) -> bool:
        return self is Outcome.CRASH

    @property
    def ran(self) -> bool:
        """The configuration ran to a result (it did not crash)."""
        return self in (Outcome.FEASIBLE, Outcome.INFEASIBLE, Outcome.PRUNED)


def mark_transient(trial: optuna.Trial) -> None:
    """Declare that the running ``trial`` is failing for a transient reason.

    Call it inside the objective before raising. The failure is then not held against the
    configuration: it may be proposed again and it does not count toward blacklists.

    Example:
        ```python
        def objective(trial):
            x = trial.suggest_float("x", 0, 1)
            try:
                return measure(x)
            except ConnectionError:
                optuna_tba.mark_transient(trial)
                raise
        ```

    """
    trial.set_user_attr(TRANSIENT_ATTR, True)


class TransientFailure(RuntimeError):
    """Raise this from an objective for a failure that says nothing about the configuration.

    Args:
        message: What went wrong.
        trial: The running trial; when given it is marked with :func:`mark_transient`.
    """

    def __init__(self, message: str = "transient failure", *, trial: optuna.Trial | None = None):
        super().__init__(message)
        if trial is not None:
            mark_transient(trial)


def constraints_of(trial: FrozenTrial) -> dict[str, float]:
    """Constraint values of a trial, without double counting.

    Named keys (``trial.set_constraint``) are preferred; the legacy list stored under the
    ``constraints`` system attribute is used only when no named key exists.
    """
    attrs = trial.system_attrs
    named = {k[len(_PREFIX) :]: float(v) for k, v in attrs.items() if k.startswith(_PREFIX)}
    if named:
        return named
    legacy = attrs.get(_LEGACY_KEY)
    if legacy is None:
        return {}
    return {str(i): float(v) for i, v in enumerate(legacy)}


def classify(trial: FrozenTrial) -> Outcome:
    """The :class:`Outcome` of one trial."""
    state = trial.state
    if state == TrialState.COMPLETE:
        cons = constraints_of(trial)
        if any(not (v <= 0.0) for v in cons.values()):  # NaN counts as violated
            return Outcome.INFEASIBLE
        return Outcome.FEASIBLE
    if state == TrialState.PRUNED:
        return Outcome.PRUNED
    if state == TrialState.FAIL:
        if trial.user_attrs.get(TRANSIENT_ATTR):
            return Outcome.TRANSIENT
        return Outcome.CRASH
    return Outcome.RUNNING


def violation_scales(
    trials: Iterable[FrozenTrial], cons_of: Callable[[FrozenTrial], dict[str, float]] | None = None
) -> dict[str, float]:
    """Per-key scale: median positive violation of that key (1.0 if never violated)."""
    cons_of = cons_of or constraints_of
    positives: dict[str, list[float]] = {}
    for t in trials:
        if t.state != TrialState.COMPLETE:
            continue
        for k, v in cons_of(t).items():
            lst = positives.setdefault(k, [])
            if v > 0 and math.isfinite(v):
                lst.append(v)
    return {k: (float(np.median(v)) if v else 1.0) for k, v in positives.items()}


def total_violation(cons: Mapping[str, float], scales: Mapping[str, float]) -> float:
    """Sum over keys of ``max(0, value) / scale[key]`` (unit-free; ``inf`` stays ``inf``)."""
    total = 0.0
    for k, v in cons.items():
        if not (v <= 0.0):
            if math.isnan(v):
                return math.inf
            total += v / max(scales.get(k, 1.0), 1e-12)
    return total


@dataclasses.dataclass(frozen=True)
class Record:
    """A trial reduced to what the samplers use."""

    number: int
    params: dict[str, Any]
    outcome: Outcome
    value: float | None  # objective oriented so that smaller is better (None if absent)
    violation: float  # unit-free total violation; 0 when feasible; inf for a crash
    phase: str | None
    margin: float = math.nan  # largest raw constraint value (signed); NaN when unknown


def oriented_value(trial: FrozenTrial, direction: optuna.study.StudyDirection) -> float | None:
    if trial.values is None or len(trial.values) != 1:
        return None
    v = float(trial.values[0])
    if math.isnan(v):
        return None
    return v if direction == optuna.study.StudyDirection.MINIMIZE else -v


class TrialCache:
    """Per-trial facts of *finished* trials (immutable once finished), computed once.

    Keyed by storage, study and trial id; RUNNING trials are never cached.
    """

    def __init__(self) -> None:
        self._cons: dict[tuple[int, int, int], dict[str, float]] = {}
        self.keys: dict[tuple[int, int, int], Any] = {}
        self.units: dict[tuple[int, int, int, int], Any] = {}
        self.static: dict[tuple[int, int, int], Any] = {}
        self.items: dict[Any, Any] = {}
        self.visited: dict[Any, Any] = {}

    def constraints(self, study_key: tuple[int, int], t: FrozenTrial) -> dict[str, float]:
        if not t.state.is_finished():
            return constraints_of(t)
        key = (*study_key, t._trial_id)
        hit = self._cons.get(key)
        if hit is None:
            hit = constraints_of(t)
            self._cons[key] = hit
        return hit


def records(
    trials: Sequence[FrozenTrial],
    direction: optuna.study.StudyDirection,
    cons_of: Callable[[FrozenTrial], dict[str, float]] | None = None,
    static: dict[Any, Any] | None = None,
    key_of: Callable[[FrozenTrial], Any] | None = None,
) -> list[Record]:
    """Reduce trials (any state) to :class:`Record` objects, in trial-number order.

    ``static`` (with ``key_of``) caches the scale-free part of finished trials.
    """
    cons_of = cons_of or constraints_of
    bases = []
    positives: dict[str, list[float]] = {}
    use_cache = static is not None and key_of is not None
    for t in sorted(trials, key=lambda t: t.number):
        state = t.state
        finished = state is not TrialState.RUNNING and state is not TrialState.WAITING
        key = key_of(t) if use_cache and finished else None  # type: ignore[misc]
        base = static.get(key) if key is not None else None  # type: ignore[union-attr]
        if base is None:
            base = _static_record(t, direction, cons_of)
            if key is not None:
                static[key] = base  # type: ignore[index]
        bases.append(base)
        if base.outcome is Outcome.FEASIBLE or base.outcome is Outcome.INFEASIBLE:
            for k, v in base.cons.items():
                lst = positives.setdefault(k, [])
                if v > 0 and math.isfinite(v):
                    lst.append(v)
    scales = {k: (float(np.median(v)) if v else 1.0) for k, v in positives.items()}
    out = []
    for base in bases:
        outcome, cons = base.outcome, base.cons
        if outcome is Outcome.INFEASIBLE:
            viol = max(total_violation(cons, scales), 1e-9)
        elif outcome is Outcome.PRUNED:
            viol = max(total_violation(cons, scales), 1.0)
        else:
            out.append(base.record)
            continue
        rec = base.record
        out.append(Record(rec.number, rec.params, outcome, rec.value, viol, rec.phase, rec.margin))
    return out


@dataclasses.dataclass(frozen=True)
class _Static:
    outcome: Outcome
    cons: dict[str, float]
    record: Record


def _static_record(
    t: FrozenTrial,
    direction: optuna.study.StudyDirection,
    cons_of: Callable[[FrozenTrial], dict[str, float]],
) -> _Static:
    state = t.state
    cons = cons_of(t) if state in (TrialState.COMPLETE, TrialState.PRUNED) else {}
    if state == TrialState.COMPLETE:
        outcome = (
            Outcome.INFEASIBLE if any(not (v <= 0.0) for v in cons.values()) else Outcome.FEASIBLE
        )
    elif state == TrialState.PRUNED:
        outcome = Outcome.PRUNED
    elif state == TrialState.FAIL:
        outcome = Outcome.TRANSIENT if t.user_attrs.get(TRANSIENT_ATTR) else Outcome.CRASH
    else:
        outcome = Outcome.RUNNING
    viol = math.inf if outcome in (Outcome.CRASH, Outcome.TRANSIENT) else 0.0
    phase = t.system_attrs.get("tba:phase")
    margin = (
        max(cons.values())
        if cons and outcome in (Outcome.FEASIBLE, Outcome.INFEASIBLE)
        else math.nan
    )
    rec = Record(
        number=t.number,
        params=t.params,
        outcome=outcome,
        value=oriented_value(t, direction) if state == TrialState.COMPLETE else None,
        violation=viol,
        phase=phase if isinstance(phase, str) else None,
        margin=margin,
    )
    return _Static(outcome, cons, rec)
