"""Property tests (hypothesis) of the TBA samplers over random spaces and outcome sequences.

Each example builds a random search space (floats with log/step, ints with log/step,
categoricals with non-string choices, an optional categorical ``branch`` that decides which
sub-parameters exist), a random sampler configuration and a random sequence of outcomes
(feasible, infeasible incl. ``inf`` constraints, crash, transient crash, pruned, NaN and
``inf`` objective values), asked in random batches so some trials are still RUNNING when
the next is asked. Trials are driven with ``study.ask()`` / ``study.tell()``.

Checked after every trial, against oracles written here from the documented rules (not
from the sampler's own helpers):

* every value lies in its distribution and has the right Python type;
* ``tba_phase`` / ``tba_reason`` are written; the phase follows the documented handoff rule
  (``TBASampler``: always phase 1), hands off at most once, and a fresh sampler instance
  with another seed reading the same storage computes the same phase;
* no configuration identical to an earlier trial with a deterministic outcome (COMPLETE,
  PRUNED, non-transient FAIL) is proposed unless it is an explicit re-evaluation or its
  ``tba_reason`` declares a duplicate, and never when the space is infinite;
* no single value banned by the documented blacklist rule is proposed while its parameter
  has an unbanned choice, and no banned pair is proposed when both of its parameters had a
  choice outside every ban; phase-1 reasons list exactly the documented bans (so
  over-banning, e.g. blaming a transient failure, is caught too);
* re-evaluations repeat an earlier feasible trial and stay within their budget share;
* nothing raises.

Constraints are reported with ``trial.set_constraint`` or, for some trials, with
``deploybench``'s ``report_constraints`` (named keys plus the legacy list).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import optuna
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from deploybench._constraints import report_constraints
from optuna_tba import (
    TRANSIENT_ATTR,
    TBAHybridSampler,
    TBASampler,
    TransientFailure,
    mark_transient,
)

PHASE_KEY = "tba:phase"
REEVAL_KEY = "tba:reevaluation_of"
PHASE_ATTR = "tba_phase"
REASON_ATTR = "tba_reason"
DUPLICATE_MARKER = "duplicate"
BRANCH = "branch"

#: Categorical choices: mixed types, pairwise unequal under ``==`` (so no 1/True/1.0 clash).
CHOICE_POOL: tuple[CategoricalChoiceType, ...] = (None, "a", "b", 2, 3.5, True, -1.25)

OUTCOMES: tuple[str, ...] = (
    "feasible",
    "feasible_boundary",
    "infeasible",
    "infeasible_inf",
    "crash",
    "transient",
    "transient_exc",
    "pruned",
    "nan_value",
    "inf_value",
    "reported_feasible",
    "reported_infeasible",
)

#: The examples are derandomized so that the suite is reproducible (no flaky CI). Shrinking
#: a failing example can take Hypothesis minutes per test, so failures are reported
#: unshrunk. While debugging, ``TBA_HYPOTHESIS_EXPLORE=1`` draws fresh random examples and
#: shrinks failures to minimal ones.
EXPLORE = bool(os.environ.get("TBA_HYPOTHESIS_EXPLORE"))
PHASES = tuple(Phase) if EXPLORE else (Phase.explicit, Phase.generate)


def property_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        phases=PHASES,
        derandomize=not EXPLORE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------- search spaces
@dataclasses.dataclass(frozen=True)
class Space:
    """A define-by-run space: ``common`` params always, ``sub[b]`` when ``branch == b``."""

    common: tuple[tuple[str, BaseDistribution], ...]
    branch: CategoricalDistribution | None
    sub: tuple[tuple[CategoricalChoiceType, tuple[tuple[str, BaseDistribution], ...]], ...]

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggest every parameter this space asks for; returns name -> value."""
        out = {name: _suggest(trial, name, dist) for name, dist in self.common}
        if self.branch is not None:
            chosen = trial.suggest_categorical(BRANCH, self.branch.choices)
            out[BRANCH] = chosen
            for choice, params in self.sub:
                if _same_choice(choice, chosen):
                    out.update({name: _suggest(trial, name, dist) for name, dist in params})
        return out

    def all_distributions(self) -> dict[str, BaseDistribution]:
        dists = dict(self.common)
        if self.branch is not None:
            dists[BRANCH] = self.branch
            for _, params in self.sub:
                dists.update(params)
        return dists

    def is_infinite(self) -> bool:
        """True when an always-present parameter is a continuous, non-degenerate float."""
        return any(
            isinstance(d, FloatDistribution) and d.step is None and not d.single()
            for _, d in self.common
        )


def _same_choice(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _suggest(trial: optuna.Trial, name: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, CategoricalDistribution)
    return trial.suggest_categorical(name, dist.choices)


@st.composite
def float_distributions(draw: st.DrawFn) -> FloatDistribution:
    kind = draw(st.sampled_from(["plain", "log", "step"]))
    if kind == "log":
        low = 10.0 ** draw(st.integers(-5, 1))
        return FloatDistribution(low, low * 10.0 ** draw(st.integers(0, 4)), log=True)
    if kind == "step":
        step = draw(st.sampled_from([0.25, 0.5, 1.0]))
        low = step * draw(st.integers(-20, 20))
        return FloatDistribution(low, low + step * draw(st.integers(0, 30)), step=step)
    low = float(draw(st.integers(-10, 10)))
    return FloatDistribution(low, low + draw(st.sampled_from([0.0, 0.1, 1.0, 100.0])))


@st.composite
def int_distributions(draw: st.DrawFn) -> IntDistribution:
    kind = draw(st.sampled_from(["plain", "log", "step"]))
    if kind == "log":
        low = draw(st.integers(1, 10))
        return IntDistribution(low, low + draw(st.integers(0, 200)), log=True)
    if kind == "step":
        step = draw(st.integers(1, 3))
        low = draw(st.integers(-20, 20))
        return IntDistribution(low, low + step * draw(st.integers(0, 12)), step=step)
    low = draw(st.integers(-20, 20))
    return IntDistribution(low, low + draw(st.integers(0, 20)))


def categorical_distributions(
    min_size: int = 1, max_size: int = 4
) -> st.SearchStrategy[CategoricalDistribution]:
    return st.lists(
        st.sampled_from(CHOICE_POOL), min_size=min_size, max_size=max_size, unique=True
    ).map(lambda choices: CategoricalDistribution(tuple(choices)))


def distributions() -> st.SearchStrategy[BaseDistribution]:
    return st.one_of(float_distributions(), int_distributions(), categorical_distributions())


@st.composite
def spaces(draw: st.DrawFn) -> Space:
    common_dists = draw(st.lists(distributions(), min_size=1, max_size=4))
    common = tuple((f"p{i}", d) for i, d in enumerate(common_dists))
    if not draw(st.booleans()):
        return Space(common, None, ())
    branch = draw(categorical_distributions(max_size=3))
    sub = []
    for j, choice in enumerate(branch.choices):
        sub_dists = draw(st.lists(distributions(), min_size=0, max_size=2))
        # Sub-parameter names are unique per branch value (an Optuna requirement would
        # otherwise be a fixed distribution per name).
        sub.append((choice, tuple((f"b{j}_q{k}", d) for k, d in enumerate(sub_dists))))
    return Space(common, branch, tuple(sub))


# ---------------------------------------------------------------------- sampler configs
@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    hybrid: bool
    kwargs: dict[str, Any]

    def build(self, seed: int) -> TBASampler:
        cls = TBAHybridSampler if self.hybrid else TBASampler
        return cls(seed=seed, **self.kwargs)


@st.composite
def sampler_configs(draw: st.DrawFn, max_min_phase1: int = 5) -> SamplerConfig:
    kwargs: dict[str, Any] = {
        "blacklist_threshold": draw(st.integers(1, 3)),
        "blacklist_cooldown": draw(st.integers(0, 10)),
        "n_startup_trials": draw(st.integers(0, 4)),
        "reevaluation": draw(st.sampled_from([0.0, 0.0, 0.2])),
        # the opt-in scikit-learn screen must keep every invariant too
        "screening_model": draw(st.sampled_from(["kernel", "kernel", "classifier"])),
    }
    hybrid = draw(st.booleans())
    if hybrid:
        low = draw(st.integers(0, max_min_phase1))
        kwargs.update(
            min_phase1_trials=low,
            max_phase1_trials=max(low, 1) + draw(st.integers(0, 8)),
            handoff_min_feasible=draw(st.integers(0, 3)),
            handoff_min_failures=draw(st.integers(0, 2)),
            # 1 and 2 make phase 2 TPE alone in most drawn spaces
            max_anneal_dims=draw(st.sampled_from([10, 10, 1, 2, None])),
        )
        if draw(st.booleans()):
            kwargs["tpe_kwargs"] = {"multivariate": draw(st.booleans())}
    return SamplerConfig(hybrid, kwargs)


# ---------------------------------------------------------------------- outcomes
def apply_outcome(study: optuna.Study, trial: optuna.Trial, kind: str, value: float) -> None:
    """Finish ``trial`` with the outcome ``kind``."""
    if kind in ("feasible", "feasible_boundary", "inf_value"):
        trial.set_constraint("c", 0.0 if kind == "feasible_boundary" else -abs(value) - 1.0)
        study.tell(trial, math.copysign(math.inf, value) if kind == "inf_value" else value)
    elif kind in ("infeasible", "infeasible_inf"):
        trial.set_constraint("c", math.inf if kind == "infeasible_inf" else abs(value) + 0.01)
        study.tell(trial, value)
    elif kind == "crash":
        study.tell(trial, state=TrialState.FAIL)
    elif kind == "transient":
        mark_transient(trial)
        study.tell(trial, state=TrialState.FAIL)
    elif kind == "transient_exc":
        TransientFailure("flaky", trial=trial)
        study.tell(trial, state=TrialState.FAIL)
    elif kind == "pruned":
        trial.report(value, step=0)
        study.tell(trial, state=TrialState.PRUNED)
    elif kind in ("reported_feasible", "reported_infeasible"):
        sign = 1.0 if kind == "reported_infeasible" else -1.0
        report_constraints(trial, {"latency": sign * 0.25, "memory": -0.5})
        study.tell(trial, value)
    elif kind == "nan_value":
        study.tell(trial, math.nan)  # Optuna records a NaN objective as FAIL
    else:
        raise AssertionError(f"unknown outcome {kind}")


# ---------------------------------------------------------------------- oracles
def config_key(params: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """Type-aware identity of a parameter dict (keeps ``2`` and ``2.0`` apart)."""
    return tuple(sorted((k, type(v).__name__, repr(v)) for k, v in params.items()))


def is_deterministic(t: FrozenTrial) -> bool:
    """COMPLETE, PRUNED, or a FAIL that is not marked transient."""
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return t.state == TrialState.FAIL and not t.user_attrs.get(TRANSIENT_ATTR)


def is_feasible(t: FrozenTrial) -> bool:
    return t.state == TrialState.COMPLETE and all(v <= 0.0 for v in t.constraints.values())


def is_failure(t: FrozenTrial) -> bool:
    """Crash (non-transient FAIL), infeasible COMPLETE or PRUNED."""
    if t.state == TrialState.COMPLETE:
        return not is_feasible(t)
    return is_deterministic(t)


def categorical_names(trials: Sequence[FrozenTrial]) -> set[str]:
    return {
        name
        for t in trials
        for name, d in t.distributions.items()
        if isinstance(d, CategoricalDistribution)
    }


def expected_hybrid_phase(before: Sequence[FrozenTrial], kwargs: Mapping[str, Any]) -> str:
    """The documented handoff rule, on the trials stored when a trial is asked."""
    if any(t.system_attrs.get(PHASE_KEY) == "phase2" for t in before):
        return "phase2"
    finished = [t for t in before if t.state.is_finished()]
    n = len(finished)
    if n >= kwargs["max_phase1_trials"]:
        return "phase2"
    if n < kwargs["min_phase1_trials"]:
        return "phase1"
    feasible = sum(is_feasible(t) for t in finished)
    failures = sum(is_failure(t) for t in finished)
    if feasible < kwargs["handoff_min_feasible"]:
        return "phase1"
    # with a finished configuration of at least max_anneal_dims numerical parameters (by
    # each name's most recent distribution), the handoff does not wait for failures
    latest: dict[str, Any] = {}
    for t in before:
        latest.update(t.distributions)
    numerical = {n for n, d in latest.items() if not isinstance(d, CategoricalDistribution)}
    dims = max((sum(n in numerical for n in t.params) for t in finished), default=0)
    limit = kwargs.get("max_anneal_dims", 10)
    high_dims = limit is not None and dims >= limit
    if failures < kwargs["handoff_min_failures"] and not high_dims:
        return "phase1"
    for name in categorical_names(before):
        dist = next(t.distributions[name] for t in reversed(before) if name in t.distributions)
        assert isinstance(dist, CategoricalDistribution)
        tried = {repr(t.params[name]) for t in finished if name in t.params}
        if len(tried) < min(3, len(dist.choices)):
            return "phase1"
    return "phase2"


Item = tuple[str, str]


def _item(name: str, value: Any) -> Item:
    return (name, f"{type(value).__name__}:{value!r}")


def expected_bans(
    before: Sequence[FrozenTrial], threshold: int, cooldown: int, now: int
) -> tuple[set[Item], set[frozenset[Item]]]:
    """Banned singles and pairs for trial ``now`` by the documented blacklist rule.

    A success is a trial that ran (COMPLETE or PRUNED). A value is blamed for a crash while
    it never succeeded; a pair while it never succeeded and neither value is blamed for
    that crash. ``c >= threshold`` blamed crashes ban an item until
    ``cooldown * 2 ** (c - threshold)`` trials after its latest blamed crash. Transient
    failures are never blamed.
    """
    cat = categorical_names(before)
    finished = sorted((t for t in before if t.state.is_finished()), key=lambda t: t.number)

    def items(t: FrozenTrial) -> list[Item]:
        return sorted(_item(n, v) for n, v in t.params.items() if n in cat)

    ok_singles: set[Item] = set()
    ok_pairs: set[frozenset[Item]] = set()
    for t in finished:
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            its = items(t)
            ok_singles.update(its)
            ok_pairs.update(frozenset(p) for p in itertools.combinations(its, 2))
    count: dict[Any, int] = {}
    last: dict[Any, int] = {}
    for t in finished:
        if not (t.state == TrialState.FAIL and is_deterministic(t)):
            continue
        its = items(t)
        blamed = {i for i in its if i not in ok_singles}
        for i in blamed:
            count[i] = count.get(i, 0) + 1
            last[i] = t.number
        for a, b in itertools.combinations(its, 2):
            pair = frozenset((a, b))
            if pair in ok_pairs or a in blamed or b in blamed:
                continue
            count[pair] = count.get(pair, 0) + 1
            last[pair] = t.number
    banned = {
        k
        for k, c in count.items()
        if c >= threshold and now - last[k] <= cooldown * 2 ** (c - threshold)
    }
    singles = {k for k in banned if not isinstance(k, frozenset)}
    pairs = {k for k in banned if isinstance(k, frozenset)}
    return singles, pairs


def blacklist_violations(
    params: Mapping[str, Any],
    dists: Mapping[str, BaseDistribution],
    singles: set[Item],
    pairs: set[frozenset[Item]],
) -> list[str]:
    """Banned items in ``params`` that the sampler had a way to avoid."""
    cats = {
        n: d for n, d in dists.items() if n in params and isinstance(d, CategoricalDistribution)
    }
    in_any_pair = {i for p in pairs for i in p}

    def has_unbanned(name: str) -> bool:
        return any(_item(name, c) not in singles for c in cats[name].choices)

    def has_clean_alternative(name: str) -> bool:
        return any(
            _item(name, c) not in singles and _item(name, c) not in in_any_pair
            for c in cats[name].choices
            if not _same_choice(c, params[name])
        )

    bad = [
        f"single {n}={params[n]!r}"
        for n in cats
        if _item(n, params[n]) in singles and has_unbanned(n)
    ]
    for a, b in itertools.combinations(sorted(cats), 2):
        pair = frozenset((_item(a, params[a]), _item(b, params[b])))
        if pair in pairs and has_clean_alternative(a) and has_clean_alternative(b):
            bad.append(f"pair {a}={params[a]!r} & {b}={params[b]!r}")
    return bad


def describe_bans(singles: set[Item], pairs: set[frozenset[Item]]) -> set[str]:
    """Bans written as ``tba_reason`` lists them: ``name=repr`` and ``n1=r1 & n2=r2``."""

    def text(item: Item) -> str:
        return f"{item[0]}={item[1].split(':', 1)[1]}"

    return {text(i) for i in singles} | {" & ".join(text(i) for i in sorted(p)) for p in pairs}


def listed_bans(reason: str) -> set[str]:
    """The bans a phase-1 ``tba_reason`` lists after ``avoiding`` (empty set if none)."""
    _, found, listed = reason.partition("; avoiding ")
    return set(listed.split("; ")[0].split(", ")) if found else set()


def check_value(name: str, dist: BaseDistribution, value: Any) -> None:
    assert dist._contains(dist.to_internal_repr(value)), f"{name}={value!r} not in {dist}"
    if isinstance(dist, FloatDistribution):
        assert type(value) is float, f"{name}: {type(value)}"
    elif isinstance(dist, IntDistribution):
        assert type(value) is int, f"{name}: {type(value)}"


def fresh_phase(study: optuna.Study, config: SamplerConfig, seed: int) -> str:
    """The phase that a brand-new sampler instance computes for the next trial."""
    other = optuna.create_study(direction=study.direction, sampler=config.build(seed))
    other.add_trials(study.get_trials(deepcopy=False))  # RUNNING ones included
    asked = other.ask()
    # The sampler writes through the storage; ``Trial.user_attrs`` is a cached snapshot.
    phase = other._storage.get_trial(asked._trial_id).user_attrs[PHASE_ATTR]
    assert isinstance(phase, str)
    return phase


# ---------------------------------------------------------------------- the driver
@dataclasses.dataclass
class Scenario:
    space: Space
    config: SamplerConfig
    seed: int
    outcomes: list[tuple[str, float]]
    batches: list[int]
    direction: Literal["minimize", "maximize"]
    #: Values and value pairs that always crash, whatever outcome was drawn.
    crashing: frozenset[Any] = frozenset()

    def crashes(self, params: Mapping[str, Any]) -> bool:
        its = [_item(n, v) for n, v in params.items()]
        return any(i in self.crashing for i in its) or any(
            frozenset(p) in self.crashing for p in itertools.combinations(its, 2)
        )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n = draw(st.integers(1, 24))
    outcome = st.tuples(
        st.sampled_from(OUTCOMES),
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    )
    if draw(st.integers(0, 5)) == 0:
        outcomes = [("crash", 0.0)] * n  # an all-crash history
    else:
        outcomes = draw(st.lists(outcome, min_size=n, max_size=n))
    return Scenario(
        space=draw(spaces()),
        config=draw(sampler_configs()),
        seed=draw(st.integers(0, 2**31 - 1)),
        outcomes=outcomes,
        batches=draw(st.lists(st.sampled_from([1, 1, 1, 2, 3]), min_size=n, max_size=n)),
        direction=draw(st.sampled_from(["minimize", "maximize"])),
    )


def run_scenario(sc: Scenario) -> optuna.Study:
    """Drive the study through ``sc`` and check every property after every trial."""
    study = optuna.create_study(direction=sc.direction, sampler=sc.config.build(sc.seed))
    dists = sc.space.all_distributions()
    kw = sc.config.kwargs
    queue = list(sc.outcomes)
    batches = iter(sc.batches)
    while queue:
        running: list[tuple[optuna.Trial, str, float]] = []
        for _ in range(min(next(batches), len(queue))):
            before = study.get_trials(deepcopy=True)
            fresh = fresh_phase(study, sc.config, sc.seed + 1) if sc.config.hybrid else None
            trial = study.ask()
            params = sc.space.suggest(trial)
            frozen = study._storage.get_trial(trial._trial_id)
            _check_trial(sc, study, frozen, params, dists, before, fresh, kw)
            kind, value = queue.pop(0)
            if sc.crashes(params):
                kind = "crash"
            running.append((trial, kind, value))
        for trial, kind, value in running:
            apply_outcome(study, trial, kind, value)
    _check_duplicates(sc, study.get_trials(deepcopy=False))
    return study


def _check_trial(
    sc: Scenario,
    study: optuna.Study,
    frozen: FrozenTrial,
    params: Mapping[str, Any],
    dists: Mapping[str, BaseDistribution],
    before: Sequence[FrozenTrial],
    fresh: str | None,
    kw: Mapping[str, Any],
) -> None:
    for name, value in params.items():
        check_value(name, dists[name], value)
    phase = frozen.user_attrs.get(PHASE_ATTR)
    assert isinstance(frozen.user_attrs.get(REASON_ATTR), str)
    assert frozen.system_attrs.get(PHASE_KEY) == phase
    if not sc.config.hybrid:
        assert phase == "phase1"
    else:
        assert phase == expected_hybrid_phase(before, kw), (phase, frozen.user_attrs)
        assert phase == fresh, "a fresh sampler instance disagrees on the phase"
    singles, pairs = expected_bans(
        before, kw["blacklist_threshold"], kw["blacklist_cooldown"], frozen.number
    )
    if singles or pairs:
        event("a ban was in force")
    if phase == "phase2":
        event("phase 2 reached")
    bad = blacklist_violations(params, dists, singles, pairs)
    assert not bad, f"trial {frozen.number} proposed banned {bad}: {frozen.user_attrs}"
    reason = str(frozen.user_attrs[REASON_ATTR])
    if phase == "phase1" and REEVAL_KEY not in frozen.system_attrs:
        # Phase-1 reasons list the bans in force: they must be exactly the documented ones
        # (this catches over-banning, e.g. blaming transient failures, too).
        assert listed_bans(reason) == describe_bans(singles, pairs), reason


def _check_duplicates(sc: Scenario, trials: Sequence[FrozenTrial]) -> None:
    seen: dict[tuple[tuple[str, str, str], ...], int] = {}
    for t in sorted(trials, key=lambda t: t.number):
        key = config_key(t.params)
        if key in seen and t.params:
            explicit = REEVAL_KEY in t.system_attrs
            declared = DUPLICATE_MARKER in str(t.user_attrs.get(REASON_ATTR, ""))
            assert explicit or (declared and not sc.space.is_infinite()), (
                f"trial {t.number} repeats trial {seen[key]} ({t.params}) without reason: "
                f"{t.user_attrs.get(REASON_ATTR)!r}"
            )
        if is_deterministic(t):
            seen.setdefault(key, t.number)
    by_number = {t.number: t for t in trials}
    reevaluations = [t for t in trials if REEVAL_KEY in t.system_attrs]
    share = sc.config.kwargs["reevaluation"]
    assert len(reevaluations) <= share * len(trials) + 1, (share, len(reevaluations))
    for t in reevaluations:
        target = by_number[t.system_attrs[REEVAL_KEY]]
        assert target.number < t.number and is_feasible(target)
        assert config_key(target.params) == config_key(t.params)


# ---------------------------------------------------------------------- the tests
#: Failures that exploring runs (``TBA_HYPOTHESIS_EXPLORE=1``) found, kept as explicit cases:
#: a single-valued log float (the plan held exp(log(10.0)) = 10.000000000000002, which no
#: trial holds, so the repeat went unnoticed and undeclared) and a single-valued float in
#: phase 2 (counted as a continuum, so the exhausted space was not declared).
_SINGLE_LOG = Scenario(
    space=Space(common=(("p0", FloatDistribution(10.0, 10.0, log=True)),), branch=None, sub=()),
    config=SamplerConfig(hybrid=False, kwargs={
        "blacklist_threshold": 1, "blacklist_cooldown": 0, "n_startup_trials": 0,
        "reevaluation": 0.0, "screening_model": "kernel"}),
    seed=0, outcomes=[("crash", 0.0)] * 2, batches=[1, 1], direction="minimize",
    crashing=frozenset(),
)
_SINGLE_PHASE2 = Scenario(
    space=Space(common=(("p0", FloatDistribution(0.0, 0.0)),), branch=None, sub=()),
    config=SamplerConfig(hybrid=True, kwargs={
        "blacklist_threshold": 1, "blacklist_cooldown": 0, "n_startup_trials": 0,
        "reevaluation": 0.0, "screening_model": "kernel", "min_phase1_trials": 0,
        "max_phase1_trials": 1, "handoff_min_feasible": 0, "handoff_min_failures": 0}),
    seed=0, outcomes=[("crash", 0.0)] * 3, batches=[1, 1, 1], direction="minimize",
    crashing=frozenset(),
)

#: ... and two trials in flight at once in a conditional space: the second one's plan
#: differed from the first's only in a parameter of the other branch, so it was not seen
#: as the same configuration.
_INFLIGHT_BRANCH = Scenario(
    space=Space(
        common=(("p0", FloatDistribution(0.0, 0.0)),),
        branch=CategoricalDistribution((None, "a")),
        sub=((None, (("b0_q0", FloatDistribution(0.0, 0.1)),)),
             ("a", (("b1_q0", CategoricalDistribution((None, "a"))),))),
    ),
    config=SamplerConfig(hybrid=False, kwargs={
        "blacklist_threshold": 1, "blacklist_cooldown": 0, "n_startup_trials": 0,
        "reevaluation": 0.0, "screening_model": "kernel"}),
    seed=0, outcomes=[("crash", 0.0)] * 5, batches=[1, 1, 1, 2, 1], direction="minimize",
    crashing=frozenset(),
)

#: ... and a TPE proposal (no relative parameters: the branch and its parameter were sampled
#: one at a time) still running when an annealing move planned exactly its configuration:
#: the running trial counted as holding no configuration at all.
_INFLIGHT_TPE = Scenario(
    space=Space(
        common=(("p0", FloatDistribution(0.0, 0.0)),),
        branch=CategoricalDistribution((None, "a")),
        sub=((None, ()), ("a", (("b1_q0", CategoricalDistribution((None, "a", "b"))),))),
    ),
    config=_SINGLE_PHASE2.config,
    seed=0, outcomes=[("crash", 0.0)] * 5, batches=[1, 1, 1, 2, 1], direction="minimize",
    crashing=frozenset(),
)

#: ... and a float planned at the top of its range: Optuna's transform clips it below
#: ``high`` with ``np.nextafter`` and returned a numpy scalar, whose key differed from the
#: same value held as a float.
_NUMPY_SCALAR = Scenario(
    space=Space(
        common=(
            ("p0", FloatDistribution(0.0, 1.0)),
            ("p1", FloatDistribution(0.0, 1.0)),
            ("p2", IntDistribution(11, 12)),
            ("p3", IntDistribution(-1, 21, step=2)),
        ),
        branch=None,
        sub=(),
    ),
    config=SamplerConfig(hybrid=False, kwargs={
        "blacklist_threshold": 3, "blacklist_cooldown": 3, "n_startup_trials": 1,
        "reevaluation": 0.0, "screening_model": "classifier"}),
    seed=8188,
    outcomes=[("transient_exc", -243346.7347823421), ("nan_value", -2.78e-306),
              ("reported_infeasible", 9.2e-172), ("infeasible", 1.3e-97),
              ("pruned", -1.2e-57)] + [("feasible", 0.0)] * 15,
    batches=[1, 2, 1, 1, 3, 3, 2, 1, 3, 2, 1, 1, 3, 1, 1, 3, 1, 1, 1, 2],
    direction="maximize",
    crashing=frozenset(),
)

#: ... and a batch of two planned trials: the second one's plan held, for the other
#: branch's parameter, a different value than the first one's plan, so the two plans did
#: not look alike although both trials evaluated the same configuration (a targeted search
#: over small conditional spaces, seeds 0..399: 15 such repeats in the first 60).
_BATCH_OTHER_BRANCH = Scenario(
    space=Space(
        common=(),
        branch=CategoricalDistribution((None, "a")),
        sub=((None, (("b0_q0", CategoricalDistribution(("x", "y"))),)),
             ("a", (("b1_q0", CategoricalDistribution(("x", "y"))),))),
    ),
    config=SamplerConfig(hybrid=False, kwargs={
        "blacklist_threshold": 2, "blacklist_cooldown": 0, "n_startup_trials": 2,
        "reevaluation": 0.0, "screening_model": "kernel"}),
    seed=2,
    outcomes=[(("crash", "feasible", "infeasible")[(2 + i) % 3], float(i)) for i in range(10)],
    batches=[(1, 2, 3)[(14 + i) % 3] for i in range(10)],
    direction="minimize",
    crashing=frozenset(),
)


@property_settings(30)
@given(sc=scenarios())
@example(sc=_SINGLE_LOG)
@example(sc=_SINGLE_PHASE2)
@example(sc=_INFLIGHT_BRANCH)
@example(sc=_INFLIGHT_TPE)
@example(sc=_NUMPY_SCALAR)
@example(sc=_BATCH_OTHER_BRANCH)
def test_random_spaces_and_outcomes(sc: Scenario) -> None:
    """All properties hold on random spaces, sampler settings and outcome sequences."""
    study = run_scenario(sc)
    assert len(study.trials) == len(sc.outcomes)


@st.composite
def crashy_categorical_scenarios(draw: st.DrawFn) -> Scenario:
    """Three categoricals and an int; some values and value pairs always crash."""
    cats = [draw(categorical_distributions(min_size=2)) for _ in range(3)]
    common = (*((f"c{i}", d) for i, d in enumerate(cats)), ("n", IntDistribution(0, 9)))
    items = [_item(f"c{i}", c) for i, d in enumerate(cats) for c in d.choices]
    singles = draw(st.sets(st.sampled_from(items), max_size=2))
    pairs = set()
    for _ in range(draw(st.integers(0, 3))):
        i, j = draw(st.permutations(range(3)))[:2]
        pairs.add(
            frozenset(
                (
                    _item(f"c{i}", draw(st.sampled_from(cats[i].choices))),
                    _item(f"c{j}", draw(st.sampled_from(cats[j].choices))),
                )
            )
        )
    n = draw(st.integers(10, 25))
    kinds = st.sampled_from(["feasible", "infeasible", "crash", "transient", "pruned"])
    return Scenario(
        space=Space(common, None, ()),
        config=draw(sampler_configs(max_min_phase1=3)),
        seed=draw(st.integers(0, 2**31 - 1)),
        outcomes=[(draw(kinds), float(i)) for i in range(n)],
        batches=draw(st.lists(st.sampled_from([1, 1, 2]), min_size=n, max_size=n)),
        direction="minimize",
        crashing=frozenset(singles | pairs),
    )


@property_settings(25)
@given(sc=crashy_categorical_scenarios())
def test_blacklist_respected_on_crashy_categoricals(sc: Scenario) -> None:
    """Bans are frequent here: values and pairs that always crash are drawn first."""
    study = run_scenario(sc)
    assert len(study.trials) == len(sc.outcomes)


@property_settings(15)
@given(
    hybrid=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
    n_choices=st.integers(1, 3),
    n_int=st.integers(1, 3),
)
def test_exhausted_space_terminates_and_declares_duplicates(
    hybrid: bool, seed: int, n_choices: int, n_int: int
) -> None:
    """On a tiny finite space every configuration is tried once before any duplicate, and
    then each duplicate says so in ``tba_reason``."""
    choices = CHOICE_POOL[:n_choices]
    size = n_choices * n_int
    kwargs: dict[str, Any] = {"min_phase1_trials": 1, "max_phase1_trials": 2} if hybrid else {}
    cls = TBAHybridSampler if hybrid else TBASampler
    study = optuna.create_study(sampler=cls(seed=seed, **kwargs))
    for _ in range(size + 3):
        trial = study.ask()
        c = trial.suggest_categorical("c", choices)
        i = trial.suggest_int("i", 0, n_int - 1)
        study.tell(trial, float(i) + (0.5 if c is None else 0.0))
    trials = study.trials
    first = [config_key(t.params) for t in trials[:size]]
    assert len(set(first)) == size, "a duplicate was proposed before the space was exhausted"
    for t in trials[size:]:
        reason = str(t.user_attrs.get(REASON_ATTR, ""))
        assert DUPLICATE_MARKER in reason, f"undeclared duplicate in trial {t.number}: {reason!r}"


@pytest.mark.parametrize("cls", [TBAHybridSampler, TBASampler])
def test_multi_objective_is_refused_at_first_trial(cls: type[TBASampler]) -> None:
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=cls(seed=0))
    with pytest.raises(ValueError, match="single-objective"):
        study.ask()


@pytest.mark.parametrize("cls", [TBAHybridSampler, TBASampler])
@pytest.mark.parametrize("how", ["mark_transient", "TransientFailure"])
def test_transient_failure_leaves_its_configuration_available(
    cls: type[TBASampler], how: str
) -> None:
    """Two configurations; the first trial fails transiently. Both configurations must
    still be evaluated in the next two trials, with no declared duplicate."""
    study = optuna.create_study(sampler=cls(seed=0, blacklist_threshold=1))

    def objective(trial: optuna.Trial) -> float:
        trial.suggest_categorical("c", ["a", "b"])
        if trial.number == 0:
            if how == "mark_transient":
                mark_transient(trial)
                raise RuntimeError("flaky")
            raise TransientFailure("flaky", trial=trial)
        return 0.0

    study.optimize(objective, n_trials=3, catch=(RuntimeError,))
    trials = study.trials
    assert trials[0].state == TrialState.FAIL and trials[0].user_attrs[TRANSIENT_ATTR]
    assert {t.params["c"] for t in trials[1:]} == {"a", "b"}
    for t in trials[1:]:
        assert DUPLICATE_MARKER not in t.user_attrs[REASON_ATTR]


@pytest.mark.parametrize("cls", [TBAHybridSampler, TBASampler])
def test_exhausted_space_still_respects_the_blacklist(cls: type[TBASampler]) -> None:
    """``c="x"`` always crashes and is banned after its first crash (threshold 1). Once the
    two allowed configurations are used up, the duplicates proposed must still avoid it."""
    for seed in range(3):
        sampler = cls(seed=seed, blacklist_threshold=1, blacklist_cooldown=100)
        study = optuna.create_study(sampler=sampler)
        for _ in range(8):
            trial = study.ask()
            c = trial.suggest_categorical("c", ["x", "y"])
            n = trial.suggest_int("n", 0, 1)
            if c == "x":
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, float(n))
        crashed = [t.number for t in study.trials if t.params["c"] == "x"]
        assert crashed[1:] == [], (
            f"seed {seed}: banned c='x' proposed again in trials {crashed[1:]}: "
            f"{[study.trials[i].user_attrs[REASON_ATTR] for i in crashed[1:]]}"
        )


@pytest.mark.parametrize("multivariate", [True, False])
def test_running_trials_are_not_duplicated_in_phase2(multivariate: bool) -> None:
    """Two trials asked back to back (the first still RUNNING) never get the same value.

    After one crash the TPE phase has no COMPLETE trial, so its relative search space is
    empty and every value comes from ``sample_independent``; the RUNNING trial's stored
    params are then the only record of what it evaluates.
    """
    collisions = []
    for seed in range(10):
        sampler = TBAHybridSampler(
            seed=seed,
            min_phase1_trials=1,
            max_phase1_trials=1,
            tpe_kwargs={"multivariate": multivariate},
        )
        study = optuna.create_study(sampler=sampler)
        first = study.ask()
        first.suggest_int("x", 0, 9)
        study.tell(first, state=TrialState.FAIL)
        a = study.ask()
        xa = a.suggest_int("x", 0, 9)
        b = study.ask()  # ``a`` is still RUNNING
        xb = b.suggest_int("x", 0, 9)
        assert study._storage.get_trial(b._trial_id).user_attrs[PHASE_ATTR] == "phase2"
        if xa == xb:
            collisions.append((seed, xa))
    assert collisions == [], f"(seed, x) where a RUNNING trial's x was proposed: {collisions}"

