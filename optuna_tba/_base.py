"""Machinery shared by both samplers: planning in ``before_trial``, following the plan in
``sample_independent``, and reading the history.

A sampler subclass implements :meth:`_PlanningSampler._decide`, which returns the phase, an
optional plan (a full configuration to follow) and the reason. The decision is written to
the trial's system attributes (``tba:phase``, ``tba:plan``) and, readably, to its user
attributes (``tba_phase``, ``tba_reason``), which optuna-dashboard shows.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import json
import threading
import warnings
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import optuna
import scipy.stats
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from optuna_tba._blacklist import Blacklist
from optuna_tba._outcomes import Outcome, Record, TrialCache, classify, records
from optuna_tba._space import (
    VisitedSet,
    config_key,
    contains,
    random_value,
    sequence_choice,
    single_values,
    union_space,
    value_key,
)

#: Marks a plan value that is absent (None is a valid categorical choice).
_MISSING = object()

PHASE_KEY = "tba:phase"
PLAN_KEY = "tba:plan"
REEVAL_KEY = "tba:reevaluation_of"
REPAIR_KEY = "tba:repair_of"
INFLIGHT_KEY = "tba:inflight"
ARM_KEY = "tba:arm"
PHASE_ATTR = "tba_phase"
REASON_ATTR = "tba_reason"
_TPE_RELATIVE_PREFIX = "tpe:relative_params:"


@dataclasses.dataclass
class Decision:
    phase: str
    plan: dict[str, Any] | None
    reason: str
    reevaluation_of: int | None = None
    repair_of: int | None = None
    arm: str | None = None


@dataclasses.dataclass
class History:
    """The study as the samplers see it at ``before_trial`` time."""

    trials: list[FrozenTrial]
    records: list[Record]
    space: dict[str, BaseDistribution]
    visited: VisitedSet
    unit_cache: Any = None
    study_key: Any = None
    blacklists: dict[int, Blacklist] = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def _repair_links(self) -> list[tuple[Record, int]]:
        """``(record of a repair trial, number of the trial it repairs)``, in number order."""
        return [
            (r, n)
            for t, r in zip(self.trials, self.records)
            if isinstance(n := t.system_attrs.get(REPAIR_KEY), int)
        ]

    def repairs(self) -> dict[int, int]:
        """How many repair moves each infeasible trial has already received."""
        return dict(collections.Counter(n for _, n in self._repair_links))

    @functools.cached_property
    def _repair_score(self) -> tuple[int, int] | None:
        """``(successes, failures)`` of the finished repair trials while nothing is feasible
        (None once anything is). A repair succeeds when it is less violated than its
        target."""
        if any(r.outcome is Outcome.FEASIBLE for r in self.records):
            return None
        by_number = {r.number: r for r in self.records}
        s = f = 0
        for r, n in self._repair_links:
            target = by_number.get(n)
            if target is None or r.outcome is Outcome.RUNNING:
                continue
            if r.outcome is Outcome.INFEASIBLE and r.violation < target.violation:
                s += 1
            else:
                f += 1
        return s, f

    def repairs_not_working(self, min_success: float) -> bool:
        """True while nothing is feasible and the repair moves made so far do not work.

        Once at least 3 repair trials have finished, repairs stop when the posterior mean
        success rate ``(1 + s) / (2 + s + f)`` (``Beta(1 + s, 1 + f)``) of
        :attr:`_repair_score` is below ``min_success``. Only before the first feasible
        trial: afterwards repairs also pay off by improving the incumbent, which this count
        does not see.
        """
        score = self._repair_score
        if min_success <= 0.0 or score is None:
            return False
        s, f = score
        return s + f >= 3 and (1 + s) / (2 + s + f) < min_success

    @functools.cached_property
    def finished(self) -> list[Record]:
        return [r for r in self.records if r.outcome is not Outcome.RUNNING]

    def max_numerical_dims(self, at_least: int = 0) -> int:
        """The most numerical (float or int) parameters any finished trial has: the
        dimension of a configuration, also in define-by-run spaces whose union of
        parameters is larger. 0 without reading the trials when the union itself has fewer
        than ``at_least`` (it bounds every configuration's count)."""
        numerical = {
            name for name, d in self.space.items() if not isinstance(d, CategoricalDistribution)
        }
        if len(numerical) < at_least:
            return 0
        return max((sum(n in numerical for n in r.params) for r in self.finished), default=0)

    @functools.cached_property
    def finished_numbers(self) -> frozenset[int]:
        """Numbers of the trials that had finished when the history was read."""
        return frozenset(r.number for r in self.finished)


def validate_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def validate_float(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


def _fresh_seed() -> int:
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy % 2**32


class _PlanningSampler(BaseSampler):
    """Base class: decide in ``before_trial``, follow the plan in ``sample_independent``."""

    def __init__(
        self,
        *,
        seed: int | None,
        blacklist_threshold: int,
        blacklist_cooldown: int,
        reevaluation: float,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
    ) -> None:
        if seed is not None:
            validate_int("seed", seed, 0)
        if constraints_func is not None:
            if not callable(constraints_func):
                kind = type(constraints_func).__name__
                raise ValueError(f"constraints_func must be callable or None, got {kind}")
            warnings.warn(
                "`constraints_func` is deprecated in Optuna 5 (removal in 7.0), as in Optuna's own "
                "samplers; it is supported for drop-in use. Prefer "
                "`optuna.trial.Trial.set_constraint` in the objective.",
                FutureWarning,
                stacklevel=3,
            )
        self._constraints_func = constraints_func
        validate_int("blacklist_threshold", blacklist_threshold, 1)
        validate_int("blacklist_cooldown", blacklist_cooldown, 0)
        validate_float("reevaluation", reevaluation, 0.0, 0.5)
        self._seed = int(seed) if seed is not None else _fresh_seed()
        self._blacklist_threshold = int(blacklist_threshold)
        self._blacklist_cooldown = int(blacklist_cooldown)
        self._reevaluation = float(reevaluation)
        self._plans: dict[int, dict[str, Any]] = {}
        self._trial_cache = TrialCache()
        self._lock = threading.Lock()
        # Held while a value is chosen for one parameter and announced (INFLIGHT_KEY), so
        # that threads of one process (``n_jobs``) never choose from the same snapshot.
        self._claim_lock = threading.Lock()

    # ------------------------------------------------------------------ pickling / rng
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_plans"] = {}
        state["_trial_cache"] = TrialCache()
        del state["_lock"]
        del state["_claim_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._claim_lock = threading.Lock()

    def reseed_rng(self) -> None:
        self._seed = _fresh_seed()

    def _rng(self, number: int, salt: int = 0) -> np.random.Generator:
        """Per-trial generator: the same seed gives the same trials in any order."""
        return np.random.default_rng([self._seed, number, salt])

    def _uniform(self, number: int, salt: int) -> float:
        """A per-trial uniform number in [0, 1), from seed, trial number and salt.

        Draws of different trials are independent. (Until the fifteenth session this was
        a CRC32 of the text ``"seed:number:salt"``; CRC32 is affine, so the draws of
        trials 10-19, 20-29, ... came in blocks: with seed 14, trials 0-29 all fell below
        0.4 and trials 30-39 all above.)
        """
        return float(self._rng(number, salt).random())

    # ------------------------------------------------------------------ subclass hook
    def _decide(self, study: Study, trial: FrozenTrial, hist: History) -> Decision:
        raise NotImplementedError

    # ------------------------------------------------------------------ history
    def _history(self, study: Study, trial: FrozenTrial) -> History:
        trials = sorted(
            (
                t
                for t in study._get_trials(deepcopy=False, use_cache=False)
                if t.number != trial.number
            ),
            key=lambda t: t.number,
        )
        study_key = study_fingerprint(study, trials)
        recs = records(
            trials,
            study.direction,
            lambda t: self._trial_cache.constraints(study_key, t),
            self._trial_cache.static,
            lambda t: (*study_key, t._trial_id),
        )
        space = union_space(trials)
        visited = self._finished_visited(study_key, trials, recs)
        for t, r in zip(trials, recs):
            if r.outcome is Outcome.RUNNING:
                for inflight in _inflight_configurations(t):
                    visited.add_inflight(inflight)
                if PHASE_KEY not in t.system_attrs:
                    visited.add_partial(t.params)
        sig = hash(tuple(space.items()))
        units = self._trial_cache.units
        unit_cache = _UnitCache(
            units,
            lambda: {
                t.number: (*study_key, t._trial_id, sig) for t in trials if t.state.is_finished()
            },
        )
        return History(trials, recs, space, visited, unit_cache, study_key)

    def _finished_visited(
        self, study_key: Any, trials: Sequence[FrozenTrial], recs: Sequence[Record]
    ) -> VisitedSet:
        """Visited configurations of finished deterministic trials, built incrementally
        (finished trials never change) and returned as a fresh copy."""
        cached = self._trial_cache.visited.get(study_key)
        if cached is None:
            cached = (set[int](), VisitedSet())
            self._trial_cache.visited[study_key] = cached
        seen, base = cached
        keys = self._trial_cache.keys
        for t, r in zip(trials, recs):
            if t._trial_id in seen or r.outcome not in _DETERMINISTIC:
                continue
            ck = (*study_key, t._trial_id)
            key = keys.get(ck)
            if key is None:
                key = keys[ck] = config_key(t.params)
            base.add(t.params, key)
            seen.add(t._trial_id)
        return base.copy()

    def _blacklist(self, hist: History, now: int) -> Blacklist:
        """The blacklist in force for trial ``now``, computed once per history."""
        cached = hist.blacklists.get(now)
        if cached is None:
            cached = hist.blacklists[now] = Blacklist.from_records(
                hist.finished,
                hist.space,
                threshold=self._blacklist_threshold,
                cooldown=self._blacklist_cooldown,
                now=now,
                items_cache=self._trial_cache.items,
                study_key=hist.study_key,
            )
        return cached

    def _maybe_reevaluate(self, hist: History, trial: FrozenTrial) -> Decision | None:
        """Opt-in: re-run a promising feasible configuration (an intentional duplicate).

        A configuration evaluated ``n`` times with ``k`` feasible results has the posterior
        ``Beta(1 + k, 1 + n - k)`` for its feasibility probability ``phi`` (the rule of
        :func:`optuna_tba.recommend`). It is *decided* once ``P(phi >= 0.9) >= 0.8``
        (certified) or ``P(phi >= 0.9) < 0.1`` (rejected). The best-valued undecided
        configuration with a feasible observation is re-run until it is decided, within a
        ``reevaluation`` share of the trials. One candidate at a time measured better than
        spreading repeats over several (see the recommend benchmark).
        """
        if self._reevaluation <= 0.0:
            return None
        done = sum(1 for t in hist.trials if REEVAL_KEY in t.system_attrs)
        n = len(hist.finished)
        if n < 5 or done + 1 > self._reevaluation * (n + 1):
            return None
        groups: dict[str, list[Record]] = {}
        for r in hist.finished:
            if r.outcome is not Outcome.TRANSIENT and r.params:
                groups.setdefault(
                    json.dumps(sorted((k, repr(v)) for k, v in r.params.items())), []
                ).append(r)
        best: tuple[float, Record, int, int] | None = None
        for grp in groups.values():
            feas = [r for r in grp if r.outcome is Outcome.FEASIBLE and r.value is not None]
            if not feas:
                continue
            k, m = len(feas), len(grp)
            p_reliable = float(scipy.stats.beta.sf(0.9, 1 + k, 1 + m - k))
            if p_reliable >= 0.8 or p_reliable < 0.1:
                continue
            mean = float(np.mean([r.value for r in feas]))  # type: ignore[misc]
            if best is None or mean < best[0]:
                best = (mean, feas[0], k, m)
        if best is None:
            return None
        _, target, k, m = best
        return Decision(
            "",
            dict(target.params),
            f"re-evaluation of trial {target.number} ({k}/{m} feasible so far; "
            "intentional duplicate)",
            reevaluation_of=target.number,
        )

    # ------------------------------------------------------------------ BaseSampler API
    def _check_single_objective(self, study: Study) -> None:
        if study._is_multi_objective():
            raise ValueError(
                f"{type(self).__name__} supports single-objective studies only; "
                f"this study has {len(study.directions)} objectives."
            )

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._check_single_objective(study)
        hist = self._history(study, trial)
        storage = study._storage
        wrote_plan = False
        for attempt in range(4):
            decision = self._decide(study, trial, hist)
            with self._claim_lock:
                if decision.plan is not None:
                    internal = _to_internal(decision.plan, hist.space)
                    storage.set_trial_system_attr(trial._trial_id, PLAN_KEY, internal)
                    wrote_plan = True
                elif wrote_plan:
                    # An earlier attempt's plan clashed and this one is a TPE proposal: the
                    # stale plan must go, or the trial (which reads its system attributes
                    # from storage) would follow it for the parameters TPE samples one at a
                    # time, and other workers would take it for this trial's configuration.
                    storage.set_trial_system_attr(trial._trial_id, PLAN_KEY, None)
                if decision.plan is None or decision.reevaluation_of is not None:
                    break
                # Another worker may have planned the same configuration at the same moment,
                # or evaluated it after this history was read: plan again without it.
                clash = None
                if attempt < 3:
                    clash = conflicting_inflight(
                        study, trial, decision.plan, hist.finished_numbers, hist.visited
                    )
            if clash is None:
                break
            avoid_clash(hist.visited, *clash)
        storage.set_trial_system_attr(trial._trial_id, PHASE_KEY, decision.phase)
        if decision.arm is not None:
            storage.set_trial_system_attr(trial._trial_id, ARM_KEY, decision.arm)
        if decision.plan is not None:
            with self._lock:
                self._plans[trial._trial_id] = decision.plan
        if decision.repair_of is not None:
            storage.set_trial_system_attr(trial._trial_id, REPAIR_KEY, decision.repair_of)
        if decision.reevaluation_of is not None:
            storage.set_trial_system_attr(trial._trial_id, REEVAL_KEY, decision.reevaluation_of)
        storage.set_trial_user_attr(trial._trial_id, PHASE_ATTR, decision.phase)
        storage.set_trial_user_attr(trial._trial_id, REASON_ATTR, decision.reason)
        # ``trial`` is the Trial's cached copy: the objective then sees both attributes too.
        trial.user_attrs[PHASE_ATTR] = decision.phase
        trial.user_attrs[REASON_ATTR] = decision.reason

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        # In normal use the relative search space is empty and the plan is followed in
        # ``sample_independent``. Callers that pass a search space directly get the plan's
        # values (deciding first if ``before_trial`` was not called for this trial).
        self._check_single_objective(study)
        if not search_space:
            return {}
        self._ensure_decided(study, trial)
        return {n: self._follow_plan(study, trial, n, d) for n, d in search_space.items()}

    def _has_decision(self, trial: FrozenTrial) -> bool:
        with self._lock:
            return trial._trial_id in self._plans

    def _ensure_decided(self, study: Study, trial: FrozenTrial) -> None:
        if not self._has_decision(trial) and PHASE_KEY not in trial.system_attrs:
            self.before_trial(study, trial)

    def _plan_of(self, trial: FrozenTrial) -> dict[str, Any] | None:
        with self._lock:
            plan = self._plans.get(trial._trial_id)
        if plan is not None:
            return plan
        stored = trial.system_attrs.get(PLAN_KEY)
        return _from_internal(stored) if isinstance(stored, dict) else None

    def _follow_plan(
        self, study: Study, trial: FrozenTrial, name: str, dist: BaseDistribution
    ) -> Any:
        plan = self._plan_of(trial) or {}
        value = plan.get(name, _MISSING)
        if value is not _MISSING:
            planned: Any = _MISSING
            if isinstance(dist, CategoricalDistribution):
                for c in dist.choices:  # the stored internal repr is the choice index
                    if _same(c, value):
                        planned = c
                        break
            elif contains(dist, value):
                planned = value
            if planned is not _MISSING:
                if not _left_plan(trial.params, plan):
                    return planned
                # An earlier parameter was drawn afresh (absent from the plan, or outside
                # this trial's distribution), so the checked plan is no longer what this
                # trial evaluates: keep the planned value only if it does not lead to a
                # visited configuration.
                return self._fresh_value(study, trial, name, dist, preferred=planned)
        return self._fresh_value(study, trial, name, dist)

    def _fresh_value(
        self,
        study: Study,
        trial: FrozenTrial,
        name: str,
        dist: BaseDistribution,
        preferred: Any = _MISSING,
    ) -> Any:
        """A random value for a parameter the plan lacks (e.g. one first seen since the
        plan was made) or whose planned value this trial's distribution does not hold (a
        range that changes between trials). A value is redrawn when, with the params
        suggested so far, it can only lead to a finished or in-flight configuration (re-read
        now: another worker's trial may have drawn the same fresh values a moment earlier),
        counting the plan's values for the parameters still to come
        (:meth:`VisitedSet.leads_to_visited`). The value is announced before it is
        returned. A ``preferred`` value (the plan's) is tried first and kept if every
        value leads to a visited configuration."""
        rng = self._rng(trial.number, salt=zlib.crc32(name.encode()))
        with self._claim_lock:
            hist = self._history(study, trial)
            draws: Iterator[Any]
            if isinstance(dist, CategoricalDistribution):
                options = list(
                    self._blacklist(hist, trial.number).allowed(name, dist, trial.params)
                )
                first = sequence_choice(options, rng)
                draws = itertools.chain(
                    [first], (options[int(i)] for i in rng.permutation(len(options)))
                )
            else:
                first = random_value(dist, name, rng)
                draws = itertools.chain(
                    [first], (random_value(dist, name, rng) for _ in range(19))
                )
            if preferred is not _MISSING:
                draws = itertools.chain([preferred], draws)
                first = preferred
            count_other_trials_now(hist.visited, study, trial, hist.finished_numbers)
            # The trial goes on with its plan for the parameters still to come.
            plan, singles = self._plan_of(trial), single_values(hist.space)
            tried: list[Any] = []
            found, value = hist.visited.first_unvisited(
                trial.params, name, _recorded(draws, tried), singles, hist.space, plan
            )
            if not found and hist.visited.has_inflight:
                # Every value looked visited counting the trials in flight elsewhere
                # (conservatively): one only in flight beats a repeat of a finished one.
                found, value = hist.visited.settled().first_unvisited(
                    trial.params, name, tried, singles, hist.space, plan
                )
            chosen = value if found else first
            announce_inflight(study, trial, {name: chosen})
        return chosen

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_single_objective(study)
        return self._follow_plan(study, trial, param_name, param_distribution)

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            self._plans.pop(trial._trial_id, None)
        if self._constraints_func is not None:
            # Exactly what Optuna's own samplers do with ``constraints_func``: evaluate it for
            # COMPLETE and PRUNED trials and store the values under the legacy list key.
            _process_constraints_after_trial(self._constraints_func, study, trial, state)


def study_fingerprint(study: Study, trials: Sequence[FrozenTrial]) -> Any:
    """Identity of a study for the per-trial caches.

    Storage object, study id and the start time of its first trial: a deleted and re-created
    study (SQLite reuses ids) or a recycled ``id()`` of a garbage-collected storage then gets
    a new key, so cached facts of the old study are never read.
    """
    first = min(trials, key=lambda t: t.number).datetime_start if trials else None
    return (id(study._storage), study._study_id, first)


class _UnitCache:
    """Unit-cube vectors of finished trials for the current space, computed once."""

    def __init__(self, store: dict[Any, Any], make_ids: Any) -> None:
        self._store = store
        self._make_ids = make_ids
        self._ids: dict[int, Any] | None = None

    @property
    def _id_of(self) -> dict[int, Any]:
        if self._ids is None:
            self._ids = self._make_ids()
        return self._ids

    def get(self, number: int) -> Any:
        return self._store.get(self._id_of.get(number))

    def put(self, number: int, vec: Any) -> None:
        key = self._id_of.get(number)
        if key is not None:
            self._store[key] = vec


_DETERMINISTIC = (Outcome.FEASIBLE, Outcome.INFEASIBLE, Outcome.PRUNED, Outcome.CRASH)


def _recorded(values: Iterator[Any], into: list[Any]) -> Iterator[Any]:
    """``values``, each also appended to ``into`` as it is drawn."""
    for v in values:
        into.append(v)
        yield v


def _left_plan(params: Mapping[str, Any], plan: Mapping[str, Any]) -> bool:
    """Whether a trial's parameters so far differ from its plan (a value absent from the
    plan or different from it)."""
    return any(n not in plan or value_key(plan[n]) != value_key(v) for n, v in params.items())


def _same(a: Any, b: Any) -> bool:
    return (type(a) is type(b) and a == b) or (a is None and b is None)


def _to_internal(plan: Mapping[str, Any], space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """JSON-safe plan: ``{name: [kind, value]}`` keeping types of categorical choices."""
    out: dict[str, Any] = {}
    for name, v in plan.items():
        if v is None or isinstance(v, (bool, int, float, str)):
            out[name] = [type(v).__name__, v]
        else:
            out[name] = ["repr", repr(v)]
    return out


def _from_internal(stored: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, item in stored.items():
        kind, v = item
        if kind in _DECODERS:
            out[name] = _DECODERS[kind](v)
    return out


_DECODERS: dict[str, Any] = {
    "NoneType": lambda v: None,
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
}


def conflicting_inflight(
    study: Study,
    trial: FrozenTrial,
    plan: Mapping[str, Any],
    seen: Collection[int],
    known: VisitedSet | None = None,
) -> tuple[bool, dict[str, Any]] | None:
    """``(running, configuration)`` of another trial that ``plan`` would duplicate, if any
    (re-read from storage): a RUNNING trial's in-flight configuration, or a trial that finished with
    a deterministic outcome after the caller's history was read (its number is not in
    ``seen``, the numbers of the trials finished in that history). Without the second
    check a worker whose history predates another worker's whole trial (a fast objective)
    planned that trial again.

    Every caller writes its own plan *before* calling this, so of two workers racing for one
    configuration the one that checks second always sees the other. Both must yield to any
    in-flight trial, whatever its number: yielding only to lower-numbered trials let a
    lower-numbered trial that wrote and checked last keep a configuration a higher-numbered
    one had already taken (seen once in the four-worker PostgreSQL test). When both see each
    other both move on, which costs nothing but a re-draw.

    With ``known`` (the caller's visited set), a RUNNING trial's configuration also counts
    on each parameter set a visited configuration has: two plans that differ only in
    parameters of a branch neither will take are one configuration."""
    for running, params in other_configurations(study, trial, seen):
        if running and known is not None:
            if known.inflight_matches(params, plan):
                return running, params
        elif VisitedSet([params]).contains_plan(plan):
            return running, params
    return None


def avoid_clash(visited: VisitedSet, running: bool, params: dict[str, Any]) -> None:
    """Count a clashing trial's configuration as visited (in flight: also projected on the
    visited parameter sets, as in the history)."""
    if running:
        visited.add_inflight(params)
    else:
        visited.add(params)


def count_other_trials_now(
    visited: VisitedSet, study: Study, trial: FrozenTrial, seen: Collection[int]
) -> None:
    """Add the other trials as they are now (re-read from storage) to ``visited``: a
    RUNNING trial's configuration as a claim on every prefix it agrees with, a trial that
    finished since the history was read as visited."""
    for running, params in other_configurations(study, trial, seen):
        if running:
            visited.add_claim(params)
        else:
            visited.add(params)


def other_configurations(
    study: Study, trial: FrozenTrial, seen: Collection[int]
) -> Iterator[tuple[bool, dict[str, Any]]]:
    """``(running, params)`` for every other trial (re-read from storage) that is RUNNING,
    with its in-flight configuration, or finished with a deterministic outcome after the
    caller's history was read (its number is not in ``seen``)."""
    me = trial.number
    for t in study._storage.get_all_trials(study._study_id, deepcopy=False):
        number = t.number
        if number in seen or number == me:  # finished when the history was read
            continue
        if t.state == TrialState.RUNNING:
            for params in _inflight_configurations(t):
                yield True, params
        elif t.state.is_finished() and t.params and classify(t) in _DETERMINISTIC:
            yield False, dict(t.params)


def _inflight_configurations(t: FrozenTrial) -> list[dict[str, Any]]:
    """What a RUNNING trial counts as: its in-flight configuration (:func:`_inflight_params`)
    and, for a trial this sampler decided, also the params it has suggested so far. A plan
    holds values for parameters its branch never asks for (seen in other branches); once the
    objective has suggested its parameters, they alone are the configuration it evaluates.
    (While it is still suggesting they are a prefix, which blocks more than needed for that
    moment: at worst a concurrent proposal is redrawn.)"""
    out = []
    inflight = _inflight_params(t)
    if inflight:
        out.append(inflight)
    if t.params and PHASE_KEY in t.system_attrs and len(t.params) < len(inflight):
        out.append(dict(t.params))
    return out


def announce_inflight(study: Study, trial: FrozenTrial, params: Mapping[str, Any]) -> None:
    """Store what ``trial`` is about to evaluate beyond its plan (TPE's relative params, a
    value chosen one parameter at a time), for other workers' duplicate checks."""
    study._storage.set_trial_system_attr(
        trial._trial_id,
        INFLIGHT_KEY,
        json.dumps(
            {
                k: v
                for k, v in params.items()
                if v is None or isinstance(v, (bool, int, float, str))
            }
        ),
    )


def _inflight_params(t: FrozenTrial) -> dict[str, Any]:
    """What a RUNNING trial will evaluate: its plan and announced values (or TPE's relative
    params) with the params it has suggested, the params a trial this sampler decided has
    suggested so far, or nothing (a trial of another sampler)."""
    params: dict[str, Any] = {}
    stored = t.system_attrs.get(PLAN_KEY)
    if isinstance(stored, dict):
        params.update(_from_internal(stored))
    inflight = t.system_attrs.get(INFLIGHT_KEY)
    if isinstance(inflight, str):
        try:
            announced = json.loads(inflight)
        except json.JSONDecodeError:
            announced = {}
        if isinstance(announced, dict):
            params.update(announced)
    if not params:
        chunks = []
        i = 0
        while (c := t.system_attrs.get(f"{_TPE_RELATIVE_PREFIX}{i}")) is not None:
            chunks.append(c)
            i += 1
        if chunks:
            try:
                relative = json.loads("".join(chunks))
            except json.JSONDecodeError:
                relative = {}
            if isinstance(relative, dict):
                params.update(relative)
    if params:
        params.update(t.params)
        return params
    if PHASE_KEY in t.system_attrs:
        # decided by this sampler (e.g. a TPE proposal with no relative parameters, all of
        # them sampled one at a time): what it has suggested so far is its configuration
        return dict(t.params)
    return {}


def direction_is_minimize(study: Study) -> bool:
    return study.direction == optuna.study.StudyDirection.MINIMIZE
