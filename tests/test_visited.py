"""Unit tests of the duplicate checks behind the samplers' no-duplicate guarantee."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from optuna_tba import TBAHybridSampler, TBASampler
from optuna_tba._blacklist import Blacklist
from optuna_tba._hybrid import _Context
from optuna_tba._space import VisitedSet, config_key, neighbour_value, single_values

SPACE = {
    "a": CategoricalDistribution(["x", "y"]),
    "t": IntDistribution(1, 2),
    "f": FloatDistribution(0.0, 1.0),
}


def test_plan_duplicates_a_visited_config_on_its_own_parameters() -> None:
    v = VisitedSet([{"a": "x", "t": 1}])
    # A plan carries values for every parameter seen; extra ones do not matter.
    assert v.contains_plan({"a": "x", "t": 1, "f": 0.3})
    assert not v.contains_plan({"a": "x", "t": 2, "f": 0.3})
    assert not v.contains_plan({"a": "x"})  # cannot tell yet


def test_types_are_kept_apart() -> None:
    v = VisitedSet([{"a": 1}])
    assert v.contains_plan({"a": 1})
    assert not v.contains_plan({"a": 1.0})
    assert not v.contains_plan({"a": True})


def test_a_numpy_scalar_is_its_python_value() -> None:
    # Optuna's transform hands out np.float64 where it clips a float below ``high``; a trial
    # held in memory keeps it, so it must match the same value as a plain float
    v = VisitedSet([{"f": np.float64(0.9999999999999999), "t": np.int64(2)}])
    assert v.contains_plan({"f": 0.9999999999999999, "t": 2})
    assert not v.contains_plan({"f": 0.9999999999999999, "t": 2.0})


def test_claims_block_every_partial_they_agree_with() -> None:
    v = VisitedSet()
    v.add_claim({"a": "x", "t": 1, "f": 0.25})
    # another trial in flight holds these values: whatever this trial suggests next, the
    # same values so far would make the same configuration if the objective stops here
    assert v.completes_to_visited({"a": "x"})
    assert v.completes_to_visited({"a": "x", "t": 1})
    assert not v.completes_to_visited({"a": "x", "t": 2})
    assert not v.completes_to_visited({"a": "y"})
    assert v.copy().completes_to_visited({"a": "x", "t": 1, "f": 0.25})


def test_prefix_exhausted_when_every_completion_was_visited() -> None:
    v = VisitedSet([{"a": "x", "t": 1}, {"a": "x", "t": 2}, {"a": "y", "t": 1}])
    assert v.prefix_exhausted({"a": "x"}, SPACE)
    assert not v.prefix_exhausted({"a": "y"}, SPACE)
    # A continuous completion is never exhausted.
    w = VisitedSet([{"a": "x", "f": 0.5}])
    assert not w.prefix_exhausted({"a": "x"}, SPACE)


def test_completion_with_single_valued_parameters_and_in_flight_partials() -> None:
    v = VisitedSet([{"a": "x", "s": 3}])
    assert v.completes_to_visited({"a": "x"}, {"s": 3})
    assert not v.completes_to_visited({"a": "x"}, {"s": 4})
    v.add_partial({"a": "y", "t": 2})
    assert v.completes_to_visited({"a": "y", "t": 2})
    copy = v.copy()
    copy.add({"a": "y", "t": 1})
    assert copy.contains_plan({"a": "y", "t": 1})
    assert not v.contains_plan({"a": "y", "t": 1})


def _tpe_context(visited: VisitedSet, space: dict[str, BaseDistribution]) -> _Context:
    """A phase-2 TPE trial's context with ``visited`` and no bans."""
    blacklist = Blacklist.from_records([], space, threshold=2, cooldown=0, now=0)
    return _Context(visited, blacklist, dict(space), [], frozenset())


def test_tpe_repair_finds_an_unvisited_configuration_far_from_the_proposal() -> None:
    # Every configuration near the proposal (c="a", i=5) was visited, and every one with
    # the other choice: only far values of ``i`` with c="a" are left. The nearby search
    # cannot reach them; the fallback must, rather than declare a duplicate.
    space = {"c": CategoricalDistribution(["a", "b"]), "i": IntDistribution(0, 100)}
    visited = VisitedSet(
        [{"c": "b", "i": i} for i in range(101)] + [{"c": "a", "i": i} for i in range(30)]
    )
    ctx = _tpe_context(visited, space)
    sampler = TBAHybridSampler(seed=0)
    out = sampler._nearest_unvisited(
        {"c": "a", "i": 5}, dict(space), ctx, np.random.default_rng(0), {}
    )
    assert out["c"] == "a" and out["i"] >= 30, out
    assert "random unvisited" in ctx.notes[-1]
    # ... and when the whole space has been visited it says so.
    full = VisitedSet([{"c": c, "i": i} for c in "ab" for i in range(101)])
    ctx = _tpe_context(full, space)
    out = sampler._nearest_unvisited(
        {"c": "a", "i": 5}, dict(space), ctx, np.random.default_rng(0), {}
    )
    assert out == {"c": "a", "i": 5} and "duplicate" in ctx.notes[-1]


def test_a_one_step_move_of_a_three_valued_int_reaches_the_middle() -> None:
    # each value owns a cell of width 1/3: one cell over from 0 is 1, not 2 (the old
    # width 1/(n-1) jumped over the middle, so a repair could never reach it)
    dist = IntDistribution(0, 2)
    rng = np.random.default_rng(0)
    assert {neighbour_value(dist, "i", 0, 1e-9, rng) for _ in range(20)} == {1}
    assert {neighbour_value(dist, "i", 2, 1e-9, rng) for _ in range(20)} == {1}


def test_tpe_conditional_value_reaches_a_far_unvisited_int() -> None:
    # every value of ``k`` but one was visited with c="a": the neighbour moves from 5 are
    # unlikely to hit the one cell left, the full range still finds it before a duplicate
    # is declared
    space = {"c": CategoricalDistribution(["a"]), "k": IntDistribution(0, 200)}
    visited = VisitedSet([{"c": "a", "k": k} for k in range(201) if k != 150])
    ctx = _tpe_context(visited, space)
    out = TBAHybridSampler._unvisited_value(
        "k", space["k"], 5, {"c": "a", "k": 5}, ctx, np.random.default_rng(0),
        single_values(ctx.space),
    )
    assert out == 150 and "moved k" in ctx.notes[-1]


_VALUES = st.sampled_from([1, 1.0, True, "1", None, 2, 0.5, np.float64(0.5), np.int64(2)])


@given(
    configs=st.lists(
        st.dictionaries(st.sampled_from("abcd"), _VALUES, min_size=1, max_size=4),
        max_size=8,
    ),
    plan=st.dictionaries(st.sampled_from("abcde"), _VALUES, max_size=5),
)
def test_contains_plan_is_the_projection_of_the_plan_on_a_visited_parameter_set(
    configs: list[dict[str, Any]], plan: dict[str, Any]
) -> None:
    # The definition ``contains_plan`` implements (it keys each plan value once instead of
    # once per parameter set): some visited configuration equals the plan restricted to
    # that configuration's parameters, value types kept apart as in ``config_key``.
    v = VisitedSet(configs)
    expected = any(
        all(n in plan for n in c) and config_key({n: plan[n] for n in c}) == config_key(c)
        for c in configs
    )
    assert v.contains_plan(plan) is expected


def test_a_partial_configuration_leads_to_visited_when_its_branch_is_used_up() -> None:
    v = VisitedSet([{"a": "x", "t": 1}, {"a": "x", "t": 2}, {"a": "y", "t": 1}])
    # Every value of ``t`` after a="x" was tried: a="x" can only end as a duplicate.
    assert v.leads_to_visited({"a": "x"}, space=SPACE)
    assert not v.leads_to_visited({"a": "x"})  # without the space only exact completions
    assert not v.leads_to_visited({"a": "y"}, space=SPACE)
    # A trial that follows a plan goes on with the plan's values.
    assert v.leads_to_visited({"a": "y"}, rest={"a": "x", "t": 1})
    assert not v.leads_to_visited({"a": "y"}, rest={"a": "x", "t": 2})
    found, value = v.first_unvisited({}, "a", ["x", "y"], space=SPACE)
    assert (found, value) == (True, "y")


def _duplicates(study: optuna.Study) -> int:
    """Finished trials whose parameters repeat an earlier finished trial's."""
    keys = [config_key(t.params) for t in study.trials if t.state.is_finished()]
    return len(keys) - len(set(keys))


def _branchy(trial: optuna.Trial) -> float:
    """A conditional space whose best branch value (width 256) has three layer options,
    two of them over a memory limit: TPE keeps proposing width 256."""
    model = trial.suggest_categorical("model", ["lin", "tree", "nn"])
    if model == "lin":
        return float(np.log(trial.suggest_float("alpha", 1e-5, 1.0, log=True)) ** 2)
    if model == "tree":
        depth = trial.suggest_int("depth", 1, 6)
        if depth > 5:
            raise MemoryError("out of memory")
        return float(depth)
    width = trial.suggest_int("width", 16, 256, step=16)
    layers = trial.suggest_categorical("layers", [1, 2, 3])
    trial.set_constraint("memory", width * layers / 400 - 1)
    return 1.0 / width


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tpe_does_not_pick_a_value_whose_branch_is_used_up(seed: int) -> None:
    # Before the sixteenth session the hybrid checked only exact completions here, and with
    # seed 1 five of 35 trials repeated {nn, 256, 1}: TPE chose width 256, then every
    # ``layers`` value gave a visited configuration.
    study = optuna.create_study(sampler=TBAHybridSampler(seed=seed))
    study.optimize(_branchy, n_trials=35, catch=(Exception,))
    assert _duplicates(study) == 0


def _shifting(trial: optuna.Trial) -> float:
    """Ranges that change between trials (Optuna allows it): a plan made with the range of
    an odd trial can hold ``n = 5``, which an even trial's range lacks."""
    x = trial.suggest_float("x", 0.0, 1.0 + trial.number % 3)
    n = trial.suggest_int("n", 1, 4 + trial.number % 2)
    c = trial.suggest_categorical("c", ["a", "b"] if trial.number % 2 else ["a", "b", "c"])
    if c == "c" and n > 3:
        raise RuntimeError("unsupported")
    return x + n


@pytest.mark.parametrize("sampler_cls", [TBASampler, TBAHybridSampler])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_redrawn_value_does_not_lead_the_rest_of_the_plan_to_a_duplicate(
    sampler_cls: type[TBASampler] | type[TBAHybridSampler], seed: int
) -> None:
    # Before the sixteenth session, with TBASampler seed 1 (maximising), two trials repeated
    # {x: 1.64, n: 1, c: "a"}: the plan's n = 5 was outside the trial's range, n was
    # redrawn, and the plan's c completed a visited configuration.
    study = optuna.create_study(sampler=sampler_cls(seed=seed), direction="maximize")
    study.enqueue_trial({"x": 0.1})
    study.optimize(_shifting, n_trials=35, catch=(Exception,))
    assert _duplicates(study) == 0


def test_the_settled_part_leaves_out_what_is_only_in_flight() -> None:
    v = VisitedSet([{"a": "x", "t": 1}])
    assert not v.has_inflight
    v.add_inflight({"a": "y"})  # a running trial's partial announcement
    v.add({"a": "x", "t": 2})  # a trial that finished meanwhile
    assert v.has_inflight and v.contains_plan({"a": "y", "t": 2})
    settled = v.settled()
    assert not settled.has_inflight
    assert not settled.contains_plan({"a": "y", "t": 2})
    assert settled.contains_plan({"a": "x", "t": 1}) and settled.contains_plan({"a": "x", "t": 2})
    copy = v.copy()
    assert copy.has_inflight and not copy.settled().contains_plan({"a": "y", "t": 1})
    claimed = VisitedSet([{"a": "x", "t": 1}])
    claimed.add_claim({"a": "y"})
    assert claimed.has_inflight and claimed.settled().contains_plan({"a": "x", "t": 1})
