"""Noise-aware recommendation: the best configuration that is *reliably* feasible.

When constraints are measured with noise (latency on a shared CPU, memory peaks), the
best observed feasible trial is often a lucky draw of a configuration that is infeasible
most of the time. :func:`recommend` instead groups trials that evaluated identical
parameters, estimates each configuration's probability ``phi`` of meeting every
constraint, and returns the best configuration for which the data support
``phi >= confidence``.

Statistics
----------
For a configuration evaluated ``n`` times with ``k`` feasible evaluations we use the
Bayes-Laplace posterior ``phi | data ~ Beta(1 + k, 1 + n - k)`` (uniform prior). We chose
the Beta posterior over a Wilson interval because it is well defined and monotone for
every ``n >= 1`` including ``k = n`` and ``k = 0`` (Wilson's lower bound collapses
towards the normal approximation at small ``n``), and because it yields a directly
interpretable number, ``P(phi >= confidence | data)``, which we use to rank
configurations when none can be certified. The reported ``lower_bound`` is the
``1 - credibility`` quantile of that posterior: a configuration is *certified* when
``lower_bound >= confidence``, equivalently ``P(phi >= confidence | data) >= credibility``.
With every evaluation feasible, certifying ``phi >= 0.9`` at the default credibility 0.8
needs ``n >= 15`` evaluations; that is the honest price of a 90 % guarantee.

Trial states
------------
* ``COMPLETE``: one evaluation; feasible when every constraint value is ``<= 0``.
* ``FAIL``: one evaluation that did **not** meet the constraints (a crash is never a
  success). Crashed trials may carry partial parameters; they are grouped under the
  parameters they have.
* ``PRUNED``, ``RUNNING``, ``WAITING``: ignored. A pruned trial was stopped by a decision
  of the pruner, not by a constraint measurement, and a running trial has no outcome yet.

A ``COMPLETE`` trial without constraint values counts as feasible only when no trial of
the study reports constraints (an unconstrained study); in a constrained study a missing
constraint is treated as *not met* (conservative).

Objective estimate
------------------
The value of a configuration is the mean of the objective values of its ``COMPLETE``
evaluations, feasible or not: feasibility is accounted for separately, and averaging only
the feasible evaluations would bias the estimate (feasible latency draws are the fast
ones). The median is available with ``value_estimator="median"``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable
from typing import Any, Literal

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import beta

__all__ = [
    "ConfigEvidence",
    "Recommendation",
    "RecommendationStatus",
    "collect_evidence",
    "recommend",
]

RecommendationStatus = Literal["confident", "insufficient_evidence", "no_feasible_observation"]

_EVALUATED_STATES = (TrialState.COMPLETE, TrialState.FAIL)


@dataclasses.dataclass(frozen=True)
class ConfigEvidence:
    """Everything the study says about one configuration (one set of identical params).

    Attributes:
        params: The parameters shared by the grouped trials.
        trial_numbers: Numbers of the grouped ``COMPLETE``/``FAIL`` trials.
        n_evaluations: ``COMPLETE`` plus ``FAIL`` trials.
        n_feasible: Evaluations that met every constraint.
        n_failed: ``FAIL`` trials among the evaluations.
        value: Mean (or median) objective over ``COMPLETE`` evaluations; None if none.
        feasibility_estimate: ``n_feasible / n_evaluations``.
        lower_bound: ``1 - credibility`` quantile of ``Beta(1 + k, 1 + n - k)``.
        prob_meets_confidence: Posterior ``P(phi >= confidence)``.
    """

    params: dict[str, Any]
    trial_numbers: tuple[int, ...]
    n_evaluations: int
    n_feasible: int
    n_failed: int
    value: float | None
    feasibility_estimate: float
    lower_bound: float
    prob_meets_confidence: float


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The answer of :func:`recommend`.

    Attributes:
        params: Recommended parameters.
        value: Objective estimate of the configuration (see module docs); None only when
            every evaluation of it failed.
        n_evaluations: How many times the configuration was evaluated.
        n_feasible: How many of those evaluations met every constraint.
        feasibility_estimate: Point estimate ``n_feasible / n_evaluations``.
        lower_bound: Posterior lower bound of the feasibility probability.
        prob_meets_confidence: Posterior probability that ``phi >= confidence``.
        confidence: The requested feasibility probability.
        credibility: The posterior probability required to certify it.
        trial_numbers: The trials that evaluated the configuration.
        status: ``"confident"`` when certified, ``"insufficient_evidence"`` when no
            configuration can be certified with the data (the best available is
            returned), ``"no_feasible_observation"`` when nothing was ever feasible.
        reason: One human-readable sentence explaining the choice.
    """

    params: dict[str, Any]
    value: float | None
    n_evaluations: int
    n_feasible: int
    feasibility_estimate: float
    lower_bound: float
    prob_meets_confidence: float
    confidence: float
    credibility: float
    trial_numbers: tuple[int, ...]
    status: RecommendationStatus
    reason: str


def _param_key(params: dict[str, Any]) -> tuple[tuple[str, Hashable], ...]:
    items: list[tuple[str, Hashable]] = []
    for name in sorted(params):
        value = params[name]
        items.append((name, value if isinstance(value, Hashable) else repr(value)))
    return tuple(items)


def _default_feasible(trial: FrozenTrial, constrained: bool) -> bool:
    if trial.state != TrialState.COMPLETE:
        return False
    constraints = trial.constraints
    if not constraints:
        return not constrained
    return all(float(v) <= 0.0 for v in constraints.values())


def _validate_probability(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must be a probability strictly between 0 and 1, got {value!r}")
    return float(value)


def collect_evidence(
    study: optuna.Study,
    *,
    confidence: float = 0.9,
    credibility: float = 0.8,
    value_estimator: Literal["mean", "median"] = "mean",
    is_feasible: Callable[[FrozenTrial], bool] | None = None,
) -> list[ConfigEvidence]:
    """Group the study's evaluated trials by parameters and summarise each group.

    Args:
        study: A single-objective study (any sampler).
        confidence: Target feasibility probability ``phi``.
        credibility: Posterior probability used for ``lower_bound``.
        value_estimator: ``"mean"`` or ``"median"`` of the ``COMPLETE`` values.
        is_feasible: Optional override ``trial -> bool`` deciding whether one
            ``COMPLETE`` evaluation met the constraints (``FAIL`` is never feasible).

    Returns:
        One :class:`ConfigEvidence` per distinct parameter set, in order of first trial.
    """
    confidence = _validate_probability("confidence", confidence)
    credibility = _validate_probability("credibility", credibility)
    if value_estimator not in ("mean", "median"):
        raise ValueError(f"value_estimator must be 'mean' or 'median', got {value_estimator!r}")
    if len(study.directions) != 1:
        raise ValueError(
            "recommend supports single-objective studies only; this study has "
            f"{len(study.directions)} objectives"
        )
    trials = study.get_trials(deepcopy=False, states=_EVALUATED_STATES)
    constrained = any(t.constraints for t in trials)
    groups: dict[tuple[tuple[str, Hashable], ...], list[FrozenTrial]] = {}
    for trial in trials:
        groups.setdefault(_param_key(trial.params), []).append(trial)

    evidence: list[ConfigEvidence] = []
    for members in groups.values():
        n = len(members)
        feasible = [
            t.state == TrialState.COMPLETE
            and (is_feasible(t) if is_feasible is not None else _default_feasible(t, constrained))
            for t in members
        ]
        k = int(sum(feasible))
        values = [
            float(t.value)
            for t in members
            if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
        ]
        value: float | None = None
        if values:
            value = float(np.mean(values) if value_estimator == "mean" else np.median(values))
        posterior = beta(1 + k, 1 + n - k)
        evidence.append(
            ConfigEvidence(
                params=dict(members[0].params),
                trial_numbers=tuple(t.number for t in members),
                n_evaluations=n,
                n_feasible=k,
                n_failed=sum(t.state == TrialState.FAIL for t in members),
                value=value,
                feasibility_estimate=k / n,
                lower_bound=float(posterior.ppf(1.0 - credibility)),
                prob_meets_confidence=float(posterior.sf(confidence)),
            )
        )
    return evidence


def recommend(
    study: optuna.Study,
    *,
    confidence: float = 0.9,
    credibility: float = 0.8,
    value_estimator: Literal["mean", "median"] = "mean",
    is_feasible: Callable[[FrozenTrial], bool] | None = None,
) -> Recommendation:
    """Recommend the best configuration that meets every constraint with probability ``confidence``.

    Trials with identical parameters are treated as repeated evaluations of one
    configuration (so it works with any sampler, with ``study.enqueue_trial`` re-runs,
    and with the re-evaluation trials of ``TBAHybridSampler``). A configuration is
    *certified* when the ``1 - credibility`` quantile of its Beta posterior on the
    feasibility probability is at least ``confidence``; the certified configuration with
    the best objective estimate is returned with ``status="confident"``.

    When nothing can be certified (typically: most configurations were evaluated once,
    and one feasible evaluation can never prove a 90 % feasibility rate), you still get
    a useful answer, flagged ``status="insufficient_evidence"``: the configuration with
    the highest posterior probability of meeting ``confidence`` (ties broken by the
    objective). With single evaluations this is the best observed feasible trial. When no
    evaluation was ever feasible the status is ``"no_feasible_observation"`` and the
    configuration with the best objective estimate among those with the most evidence is
    returned. Always read ``status`` and ``reason``.

    Args:
        study: A single-objective study; constraints are read from the trials
            (``trial.set_constraint`` or ``constraints_func``).
        confidence: Required probability that one evaluation meets every constraint.
        credibility: How sure the posterior must be that ``phi >= confidence``.
        value_estimator: ``"mean"`` (default) or ``"median"`` of the objective values.
        is_feasible: Optional override deciding feasibility of a ``COMPLETE`` trial.

    Returns:
        A :class:`Recommendation`.

    Raises:
        ValueError: For multi-objective studies, invalid arguments, or a study without
            any ``COMPLETE``/``FAIL`` trial.

    Example:
        >>> import optuna
        >>> from optuna_tba import recommend
        >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
        >>> study = optuna.create_study()
        >>> def objective(trial):
        ...     x = trial.suggest_int("x", 0, 3)
        ...     trial.set_constraint("latency", x - 2.5)  # x <= 2 is feasible
        ...     return -x
        >>> for x in [0, 1, 2, 3] + [2] * 15:
        ...     study.enqueue_trial({"x": x})
        >>> study.optimize(objective, n_trials=19)
        >>> rec = recommend(study, confidence=0.9)
        >>> rec.params, rec.status, rec.n_evaluations
        ({'x': 2}, 'confident', 16)
    """
    evidence = collect_evidence(
        study,
        confidence=confidence,
        credibility=credibility,
        value_estimator=value_estimator,
        is_feasible=is_feasible,
    )
    if not evidence:
        raise ValueError(
            "the study has no COMPLETE or FAIL trial; run some trials before recommending"
        )
    confidence = float(confidence)
    credibility = float(credibility)
    sign = 1.0 if study.direction == StudyDirection.MINIMIZE else -1.0

    def objective_key(e: ConfigEvidence) -> float:
        return sign * e.value if e.value is not None else math.inf

    certified = [e for e in evidence if e.lower_bound >= confidence and e.value is not None]
    if certified:
        best = min(certified, key=lambda e: (objective_key(e), -e.lower_bound))
        status: RecommendationStatus = "confident"
        reason = (
            f"{best.n_feasible}/{best.n_evaluations} evaluations feasible; "
            f"P(phi >= {confidence:g}) = {best.prob_meets_confidence:.3f} >= {credibility:g}; "
            f"best objective among {len(certified)} certified configuration(s)"
        )
    elif any(e.n_feasible > 0 for e in evidence):
        candidates = [e for e in evidence if e.n_feasible > 0]
        best = min(candidates, key=lambda e: (-e.prob_meets_confidence, objective_key(e)))
        status = "insufficient_evidence"
        reason = (
            f"no configuration is certified: the best has P(phi >= {confidence:g}) = "
            f"{best.prob_meets_confidence:.3f} < {credibility:g} "
            f"({best.n_feasible}/{best.n_evaluations} feasible); returned the configuration "
            "most likely to meet the target (ties broken by objective). Re-evaluate it "
            "(e.g. study.enqueue_trial(rec.params)) to gain evidence"
        )
    else:
        most = max(e.n_evaluations for e in evidence)
        pool = [e for e in evidence if e.value is not None] or evidence
        best = min(pool, key=lambda e: (objective_key(e), -e.n_evaluations))
        status = "no_feasible_observation"
        reason = (
            f"none of {sum(e.n_evaluations for e in evidence)} evaluations met the "
            f"constraints (largest repeat count {most}); returned the best objective "
            "estimate, which is NOT known to be feasible"
        )
    return Recommendation(
        params=dict(best.params),
        value=best.value,
        n_evaluations=best.n_evaluations,
        n_feasible=best.n_feasible,
        feasibility_estimate=best.feasibility_estimate,
        lower_bound=best.lower_bound,
        prob_meets_confidence=best.prob_meets_confidence,
        confidence=confidence,
        credibility=credibility,
        trial_numbers=best.trial_numbers,
        status=status,
        reason=reason,
    )
