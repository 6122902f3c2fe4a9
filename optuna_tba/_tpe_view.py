"""A thin, read-only view of a study in which crashed trials look infeasible to TPE.

Optuna's TPE reads history only through ``study._get_trials`` and ignores FAIL trials. The
view answers that call with every deterministic crash (FAIL not marked transient) shown as a
COMPLETE trial whose only constraint, ``tba_crash``, is larger than any violation measured
in the study. TPE's own constrained split then ranks crashes below every measured trial and
moves away from them. Everything else (storage writes, directions, caches) goes to the real
study: nothing is copied.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from optuna_tba._base import study_fingerprint
from optuna_tba._outcomes import TRANSIENT_ATTR

CRASH_CONSTRAINT = "tba_crash"


def _measured_violation(t: FrozenTrial) -> float:
    return sum(v for v in t.constraints.values() if v > 0)


class CrashAwareStudyView:
    """Wraps ``study``; overrides ``_get_trials`` only. Converted trials are cached."""

    def __init__(
        self,
        study: Study,
        cache: dict[Any, tuple[float, FrozenTrial]],
        violations: dict[Any, float],
    ):
        self._study = study
        self._cache = cache
        self._violations = violations

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        trials = self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache)
        crash_level = 1.0
        study_id = study_fingerprint(self._study, trials)
        for t in trials:
            if t.state == TrialState.COMPLETE:
                key = (study_id, t._trial_id)
                v = self._violations.get(key)
                if v is None:
                    v = self._violations[key] = _measured_violation(t)
                if v > 0 and v != float("inf"):
                    crash_level = max(crash_level, 2.0 * v + 1.0)
        out = []
        for t in trials:
            if t.state == TrialState.FAIL:
                if t.user_attrs.get(TRANSIENT_ATTR):
                    continue
                if states is not None and TrialState.COMPLETE not in states:
                    continue
                out.append(self._as_infeasible(study_id, t, crash_level))
            elif states is None or t.state in states:
                out.append(t)
        return out

    def _as_infeasible(self, study_id: Any, t: FrozenTrial, level: float) -> FrozenTrial:
        key = (study_id, t._trial_id)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == level:
            return hit[1]
        system_attrs = {k: v for k, v in t.system_attrs.items() if not k.startswith("constraints")}
        system_attrs[f"constraints:{CRASH_CONSTRAINT}"] = level
        converted = FrozenTrial(
            number=t.number,
            state=TrialState.COMPLETE,
            value=None,
            values=[0.0],
            datetime_start=t.datetime_start,
            datetime_complete=t.datetime_complete,
            params=t.params,
            distributions=t.distributions,
            user_attrs=t.user_attrs,
            system_attrs=system_attrs,
            intermediate_values=t.intermediate_values,
            trial_id=t._trial_id,
        )
        self._cache[key] = (level, converted)
        return converted
