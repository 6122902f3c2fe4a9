"""``TBAHybridSampler``: feasible-first annealing, then Optuna's TPE on a crash-aware view."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from optuna_tba._base import (
    ARM_KEY,
    PHASE_KEY,
    REASON_ATTR,
    Decision,
    History,
    announce_inflight,
    avoid_clash,
    conflicting_inflight,
    count_other_trials_now,
    validate_float,
    validate_int,
)
from optuna_tba._blacklist import Blacklist
from optuna_tba._moves import Proposer
from optuna_tba._outcomes import Outcome
from optuna_tba._space import (
    VisitedSet,
    grid_values,
    n_values,
    neighbour_value,
    random_value,
    sequence_choice,
    single_values,
    to_unit,
)
from optuna_tba._tba import TBASampler
from optuna_tba._tpe_view import CrashAwareStudyView

#: In spaces with at least ``max_anneal_dims`` numerical parameters ``d``, phase 2 is TPE
#: alone until this many finished trials per parameter (measured: tenth session, see the
#: algorithm page, "High-dimensional spaces").
_TPE_ONLY_TRIALS_PER_DIM = 5


@dataclasses.dataclass
class _Context:
    """Per-trial context kept between ``before_trial`` and the phase-2 sampling calls."""

    visited: VisitedSet
    blacklist: Blacklist
    space: dict[str, BaseDistribution]
    notes: list[str]
    seen: frozenset[int]  # numbers of the trials finished in the history read
    relative: dict[str, Any] = dataclasses.field(default_factory=dict)  # TPE's, announced


class TBAHybridSampler(TBASampler):
    """Crash-aware feasible-first annealing that hands off to Optuna's TPE.

    **Phase 1** is :class:`~optuna_tba.TBASampler`: fresh start-up points, then
    simulated annealing that first minimises constraint violation, then optimises among
    feasible trials, repairs high-value infeasible trials, screens moves by the crash risk
    learnt from the history, and bans categorical values and value pairs that keep
    crashing. **Phase 2** is an inner :class:`optuna.samplers.TPESampler` that reads the
    study through a view in which each crashed trial is an infeasible trial with a violation
    larger than any measured one, so TPE moves away from crash regions instead of ignoring
    them. Blacklisting and deduplication apply in both phases: no configuration already
    evaluated (or in flight) is proposed again.

    The handoff happens once, when the finished trials hold at least ``handoff_min_feasible``
    feasible trials, ``handoff_min_failures`` crashed/infeasible/pruned trials and, for each
    categorical parameter, at least ``min(3, n_choices)`` distinct values tried — or when
    phase 1 reaches ``max_phase1_trials``. The rule reads only the stored trials, and a
    trial marked phase 2 makes every later trial phase 2, so all workers agree.

    The design follows the feasible-first annealing of Lysenstøen (2026), *Feasible-First
    Exploration for Constrained ML Deployment Optimization in Crash-Prone Hierarchical Search
    Spaces*, with the fixes listed in the project's documentation (deduplication, unit-free
    violations, name-free handoff, blacklisting after handoff, storage as the only state),
    and TPE (Bergstra et al., 2011; Watanabe, 2023) with Optuna's constraint handling.

    Args:
        seed: Seed for phase 1's per-trial generators and the inner TPE.
        expected_n_trials: Optional budget hint. Sets the default ``max_phase1_trials`` to
            ``clip(round(0.3 * expected_n_trials), 6, 30)``.
        min_phase1_trials: Phase 1 never hands off before this many finished trials.
            Default 5.
        max_phase1_trials: Phase 1 always hands off at this many finished trials. Default:
            from ``expected_n_trials``, else 15.
        handoff_min_feasible: Feasible trials needed for an early handoff. Default 3.
        handoff_min_failures: Crashed/infeasible/pruned trials needed for an early handoff
            (not in high-dimensional spaces, see ``max_anneal_dims``). Default 2.
        tpe_kwargs: Keyword arguments for the inner :class:`~optuna.samplers.TPESampler`
            (Optuna's defaults otherwise, with ``n_startup_trials=0`` since phase 1 is the
            start-up).
        p_anneal: Share of phase-2 trials that are annealing moves instead of TPE
            proposals. Default None: adaptive, by Thompson sampling on which of the two
            improved the best feasible value more often in this study (see
            ``max_anneal_dims``).
        max_anneal_dims: Annealing moves change one or two coordinates at a time, too
            few early in a high-dimensional search. In a space where a finished trial has
            ``d >= max_anneal_dims`` numerical parameters, the early handoff does not wait
            for ``handoff_min_failures`` failures, and (with the adaptive ``p_anneal``)
            phase 2 is TPE alone until ``5 * d`` trials have finished; later the adaptive
            portfolio resumes. Default 10; None switches both rules off.
        **kwargs: Phase-1 and shared options of :class:`~optuna_tba.TBASampler`
            (``n_startup_trials``, temperatures, ``screening``, ``blacklist_threshold``,
            ``blacklist_cooldown``, ``reevaluation``, ...).

    Example:
        ```python
        import optuna
        from optuna_tba import TBAHybridSampler

        def objective(trial):
            backend = trial.suggest_categorical("backend", ["a", "b", "c"])
            batch = trial.suggest_int("batch", 1, 64, log=True)
            if backend == "c" and batch > 8:
                raise MemoryError("out of memory")  # a crash: the trial becomes FAIL
            latency = batch * (2.0 if backend == "a" else 1.0)
            trial.set_constraint("latency", latency / 40 - 1)  # feasible when <= 0
            return -batch

        study = optuna.create_study(sampler=TBAHybridSampler(seed=0, expected_n_trials=30))
        study.optimize(objective, n_trials=30, catch=(MemoryError,))
        ```

    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        expected_n_trials: int | None = None,
        min_phase1_trials: int = 5,
        max_phase1_trials: int | None = None,
        handoff_min_feasible: int = 3,
        handoff_min_failures: int = 2,
        tpe_kwargs: dict[str, Any] | None = None,
        p_anneal: float | None = None,
        max_anneal_dims: int | None = 10,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed=seed, **kwargs)
        if p_anneal is not None:
            validate_float("p_anneal", p_anneal, 0.0, 1.0)
        self._p_anneal = None if p_anneal is None else float(p_anneal)
        validate_int("max_anneal_dims", max_anneal_dims, 1, allow_none=True)
        self._max_anneal_dims = None if max_anneal_dims is None else int(max_anneal_dims)
        validate_int("expected_n_trials", expected_n_trials, 1, allow_none=True)
        validate_int("min_phase1_trials", min_phase1_trials, 0)
        validate_int("max_phase1_trials", max_phase1_trials, 1, allow_none=True)
        validate_int("handoff_min_feasible", handoff_min_feasible, 0)
        validate_int("handoff_min_failures", handoff_min_failures, 0)
        if tpe_kwargs is not None and not isinstance(tpe_kwargs, dict):
            raise ValueError(f"tpe_kwargs must be a dict or None, got {type(tpe_kwargs).__name__}")
        if max_phase1_trials is None:
            if expected_n_trials is not None:
                max_phase1_trials = int(min(max(round(0.3 * expected_n_trials), 6), 30))
            else:
                max_phase1_trials = 15
        if max_phase1_trials < min_phase1_trials:
            raise ValueError(
                f"max_phase1_trials ({max_phase1_trials}) must be >= min_phase1_trials "
                f"({min_phase1_trials})"
            )
        self._expected_n_trials = expected_n_trials
        self._min_phase1 = int(min_phase1_trials)
        self._max_phase1 = int(max_phase1_trials)
        self._min_feasible = int(handoff_min_feasible)
        self._min_failures = int(handoff_min_failures)
        kw: dict[str, Any] = {"n_startup_trials": 0}
        kw.update(tpe_kwargs or {})
        kw.setdefault("seed", self._seed)
        try:
            self._tpe = optuna.samplers.TPESampler(**kw)
        except TypeError as exc:
            raise ValueError(f"invalid tpe_kwargs: {exc}") from None
        self._view_cache: dict[Any, tuple[float, FrozenTrial]] = {}
        self._view_violations: dict[Any, float] = {}
        self._contexts: dict[int, _Context] = {}

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_view_cache"] = {}
        state["_view_violations"] = {}
        state["_contexts"] = {}
        return state

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._tpe.reseed_rng()

    # ------------------------------------------------------------------ handoff
    def handoff_reason(self, hist: History) -> str | None:
        """Why phase 1 is over for this history (None while it goes on)."""
        fin = hist.finished
        if any(t.system_attrs.get(PHASE_KEY) == "phase2" for t in hist.trials):
            return "phase 2 already started in this study"
        n = len(fin)
        if n >= self._max_phase1:
            return f"phase-1 limit reached ({n} finished trials)"
        if n < self._min_phase1:
            return None
        feasible = sum(r.outcome is Outcome.FEASIBLE for r in fin)
        failures = sum(
            r.outcome in (Outcome.CRASH, Outcome.INFEASIBLE, Outcome.PRUNED) for r in fin
        )
        if feasible < self._min_feasible:
            return None
        high_dims = self._high_dims(hist)
        if failures < self._min_failures and not high_dims:
            return None
        for name, dist in hist.space.items():
            if isinstance(dist, CategoricalDistribution):
                tried = {repr(r.params[name]) for r in fin if name in r.params}
                if len(tried) < min(3, len(dist.choices)):
                    return None
        text = f"{feasible} feasible, {failures} failed, categorical choices covered"
        if high_dims and failures < self._min_failures:
            text += f"; {high_dims} numerical parameters: no wait for failures"
        return f"history is informative ({text})"

    def _high_dims(self, hist: History) -> int:
        """``d`` when a finished trial has ``d >= max_anneal_dims`` numerical parameters,
        else 0."""
        if self._max_anneal_dims is None:
            return 0
        dims = hist.max_numerical_dims(at_least=self._max_anneal_dims)
        return dims if dims >= self._max_anneal_dims else 0

    # ------------------------------------------------------------------ decisions
    def _decide(self, study: Study, trial: FrozenTrial, hist: History) -> Decision:
        reason = self.handoff_reason(hist)
        if reason is None:
            return self._phase1(trial, hist)
        reeval = self._maybe_reevaluate(hist, trial)
        if reeval is not None:
            reeval.phase = "phase2"
            return reeval
        blacklist = self._blacklist(hist, trial.number)
        if self._uniform(trial.number, 7) < self._moves.p_repair and not (
            hist.repairs_not_working(self._min_repair_success)
        ):
            rng = self._rng(trial.number)
            prop = Proposer(
                hist.space,
                hist.records,
                blacklist,
                hist.visited,
                self._moves,
                rng,
                hist.repairs(),
                hist.unit_cache,
            ).repair()
            if prop is not None:
                return Decision("phase2", prop.plan, prop.reason, repair_of=prop.repair_of)
        if self._choose_annealing(hist, trial):
            decision = self._phase1(trial, hist, phase="phase2")
            decision.reason = "annealing move in phase 2: " + decision.reason
            decision.arm = "anneal"
            return decision
        with self._lock:
            self._contexts[trial._trial_id] = _Context(
                hist.visited, blacklist, hist.space, [], hist.finished_numbers
            )
        text = f"TPE on the crash-aware view ({reason})"
        size = math.prod(n_values(d) for d in hist.space.values()) if hist.space else math.inf
        if size <= len(hist.visited):
            text += (
                "; search space exhausted: this trial repeats an evaluated configuration "
                "(duplicate)"
            )
        return Decision("phase2", None, text, arm="tpe")

    def _choose_annealing(self, hist: History, trial: FrozenTrial) -> bool:
        """Phase-2 portfolio: TPE or an annealing move.

        With ``p_anneal`` set, a fixed share. With ``p_anneal=None`` (adaptive): never while
        a finished trial has ``d >= max_anneal_dims`` numerical parameters and fewer than
        ``5 * d`` trials have finished; otherwise Thompson sampling over the two arms: each
        finished phase-2 trial of an arm counts as a success when it improved the best
        feasible value at its time (trial-number order). TPE starts with one extra prior
        success.
        """
        if self._p_anneal is not None:
            return self._uniform(trial.number, 8) < self._p_anneal
        dims = self._high_dims(hist)
        if dims and len(hist.finished) < _TPE_ONLY_TRIALS_PER_DIM * dims:
            return False
        stats = {"tpe": [2.0, 1.0], "anneal": [1.0, 1.0]}
        best = math.inf
        for t, r in zip(hist.trials, hist.records):
            improved = r.outcome is Outcome.FEASIBLE and r.value is not None and r.value < best
            arm = t.system_attrs.get(ARM_KEY)
            if arm in stats and r.outcome is not Outcome.RUNNING:
                stats[arm][0 if improved else 1] += 1.0
            if improved:
                best = r.value  # type: ignore[assignment]
        rng = self._rng(trial.number, salt=9)
        draw = {a: rng.beta(s_, f_) for a, (s_, f_) in stats.items()}
        return bool(draw["anneal"] > draw["tpe"])

    def _context(self, trial: FrozenTrial) -> _Context | None:
        with self._lock:
            return self._contexts.get(trial._trial_id)

    def _has_decision(self, trial: FrozenTrial) -> bool:
        with self._lock:
            return trial._trial_id in self._contexts or trial._trial_id in self._plans

    # ------------------------------------------------------------------ phase 2 sampling
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._plan_of(trial) is not None or self._context(trial) is None:
            return {}
        # Computed on the real study: crashed trials hold partial parameters.
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._check_single_objective(study)
        if not search_space:
            return {}
        self._ensure_decided(study, trial)
        ctx = self._context(trial)
        if ctx is None:  # this trial follows a plan (phase 1, repair or re-evaluation)
            return super().sample_relative(study, trial, search_space)
        view: Any = CrashAwareStudyView(study, self._view_cache, self._view_violations)
        params = self._tpe.sample_relative(view, trial, search_space)
        if not params:
            return params
        params = self._repair(trial, params, search_space, ctx)
        for attempt in range(4):
            with self._claim_lock:
                announce_inflight(study, trial, params)
                clash = None
                if attempt < 3:
                    clash = conflicting_inflight(study, trial, params, ctx.seen, ctx.visited)
            if clash is None:
                break
            # Another worker proposed the same configuration at the same moment.
            avoid_clash(ctx.visited, *clash)
            params = self._repair(trial, params, search_space, ctx)
        ctx.relative = dict(params)
        return params

    def _repair(
        self,
        trial: FrozenTrial,
        params: dict[str, Any],
        space: dict[str, BaseDistribution],
        ctx: _Context,
    ) -> dict[str, Any]:
        rng = _LazyRng(lambda: self._rng(trial.number, salt=1))
        fixed = dict(params)
        for name, dist in space.items():
            if isinstance(dist, CategoricalDistribution) and name in fixed:
                allowed = ctx.blacklist.allowed(name, dist, fixed)
                if fixed[name] not in allowed:
                    ctx.notes.append(f"{name}={fixed[name]!r} is blacklisted")
                    fixed[name] = sequence_choice(allowed, rng)
        singles = {k: v for k, v in single_values(ctx.space).items() if k not in fixed}
        if ctx.visited.contains_plan({**singles, **fixed}) or ctx.visited.prefix_exhausted(
            fixed, ctx.space
        ):
            fixed = self._nearest_unvisited(fixed, space, ctx, rng, singles)
        return fixed

    def _nearest_unvisited(
        self,
        params: dict[str, Any],
        space: dict[str, BaseDistribution],
        ctx: _Context,
        rng: Any,
        singles: dict[str, Any],
    ) -> dict[str, Any]:
        """Smallest perturbation of ``params`` that is not a visited configuration."""
        names = [n for n in space if not space[n].single()]
        if not names:
            return params
        for attempt in range(200):
            scale = 0.02 * (1 + attempt // 10)
            cand = dict(params)
            k = 1 + attempt // 50
            for idx in rng.choice(len(names), size=min(k, len(names)), replace=False):
                n = names[int(idx)]
                dist = space[n]
                if isinstance(dist, CategoricalDistribution):
                    options = [c for c in ctx.blacklist.allowed(n, dist, cand) if c != cand[n]]
                    if options:
                        cand[n] = sequence_choice(options, rng)
                else:
                    cand[n] = neighbour_value(dist, n, cand[n], scale, rng)
            if self._unvisited(cand, ctx, singles):
                ctx.notes.append(
                    "TPE proposed a visited configuration; moved to the nearest unvisited one"
                )
                return cand
        # Nothing nearby (e.g. every one- and two-parameter change of a small finite space
        # was visited): any unvisited configuration, as phase 1 does (unless the whole
        # space has been visited).
        size = math.prod(n_values(d) for d in ctx.space.values())
        for _ in range(1000 if size > len(ctx.visited) else 0):
            cand = dict(params)
            for n in names:
                dist = space[n]
                if isinstance(dist, CategoricalDistribution):
                    cand[n] = sequence_choice(ctx.blacklist.allowed(n, dist, cand), rng)
                else:
                    cand[n] = random_value(dist, n, rng)
            if self._unvisited(cand, ctx, singles):
                ctx.notes.append(
                    "TPE proposed a visited configuration; nothing unvisited nearby, moved "
                    "to a random unvisited one"
                )
                return cand
        if ctx.visited.has_inflight:
            # Everything looked visited counting other workers' trials in flight
            # (conservatively): a configuration that is only in flight beats a repeat of a
            # finished one, and TPE's own proposal comes first.
            ctx.notes.append(
                "every configuration near TPE's proposal looked in flight elsewhere: one not "
                "evaluated yet (possible duplicate of a running trial)"
            )
            settled = dataclasses.replace(ctx, visited=ctx.visited.settled())
            if self._unvisited(params, settled, singles):
                return params
            return self._nearest_unvisited(params, space, settled, rng, singles)
        ctx.notes.append("no unvisited configuration found near TPE's proposal: duplicate")
        return params

    @staticmethod
    def _unvisited(cand: dict[str, Any], ctx: _Context, singles: dict[str, Any]) -> bool:
        return not ctx.visited.contains_plan(
            {**singles, **cand}
        ) and not ctx.visited.prefix_exhausted(cand, ctx.space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_single_objective(study)
        ctx = self._context(trial)
        if self._plan_of(trial) is not None or ctx is None:
            return self._follow_plan(study, trial, param_name, param_distribution)
        view: Any = CrashAwareStudyView(study, self._view_cache, self._view_violations)
        value = self._tpe.sample_independent(view, trial, param_name, param_distribution)
        rng = _LazyRng(lambda: self._rng(trial.number, salt=2))
        dist = param_distribution
        if isinstance(dist, CategoricalDistribution):
            allowed = ctx.blacklist.allowed(param_name, dist, trial.params)
            if value not in allowed:
                ctx.notes.append(f"{param_name}={value!r} is blacklisted")
                value = sequence_choice(allowed, rng)
        with self._claim_lock:
            # Another worker may have planned or finished a configuration since this
            # trial's history was read (its plan may already hold this parameter's value).
            count_other_trials_now(ctx.visited, study, trial, ctx.seen)
            singles = single_values(ctx.space)
            partial = {**trial.params, param_name: value}
            if ctx.visited.leads_to_visited(partial, singles, ctx.space):
                value = self._unvisited_value(param_name, dist, value, partial, ctx, rng, singles)
            announce_inflight(study, trial, {**ctx.relative, param_name: value})
        return value

    @staticmethod
    def _unvisited_value(
        name: str,
        dist: BaseDistribution,
        value: Any,
        partial: dict[str, Any],
        ctx: _Context,
        rng: Any,
        singles: dict[str, Any],
    ) -> Any:
        """The value of ``name`` nearest to ``value`` that does not lead ``partial`` to a
        visited configuration (``value`` itself if every value does)."""
        if isinstance(dist, CategoricalDistribution):
            allowed = ctx.blacklist.allowed(name, dist, partial)
            options = [c for c in allowed if c != value]
            order = [options[int(i)] for i in rng.permutation(len(options))]
        else:
            order = [
                neighbour_value(dist, name, value, 0.03 * (1 + i // 3), rng) for i in range(60)
            ]
            # then every value of a finite range, nearest first (the neighbours stay close)
            u0 = to_unit(name, dist, value)
            order += sorted(grid_values(dist), key=lambda v: abs(to_unit(name, dist, v) - u0))
        found, alt = ctx.visited.first_unvisited(partial, name, order, singles, ctx.space)
        if found:
            ctx.notes.append(f"moved {name} off a visited configuration")
            return alt
        if ctx.visited.has_inflight:
            # as in _nearest_unvisited: in flight elsewhere beats a certain repeat, and
            # TPE's own value comes first (a claim blocks every prefix it agrees with, so
            # the value may well lead to a configuration nobody evaluates)
            found, alt = ctx.visited.settled().first_unvisited(
                partial, name, [value, *order], singles, ctx.space
            )
            if found:
                ctx.notes.append(
                    f"every value of {name} looked in flight elsewhere: one not evaluated yet "
                    "(possible duplicate of a running trial)"
                )
                return alt
        ctx.notes.append(f"every value of {name} tried gives a visited configuration: duplicate")
        return value

    def after_trial(
        self, study: Study, trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
    ) -> None:
        with self._lock:
            ctx = self._contexts.pop(trial._trial_id, None)
        if ctx is not None and ctx.notes:
            reason = trial.user_attrs.get(REASON_ATTR, "")
            study._storage.set_trial_user_attr(
                trial._trial_id, REASON_ATTR, f"{reason}; " + "; ".join(ctx.notes)
            )
        self._tpe.after_trial(study, trial, state, values)
        super().after_trial(study, trial, state, values)


class _LazyRng:
    """Creates the numpy generator only if a repair actually needs random numbers."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._rng: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._rng is None:
            self._rng = self._make()
        return getattr(self._rng, name)
