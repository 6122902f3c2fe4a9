"""Unit tests of the duplicate checks behind the samplers' no-duplicate guarantee."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from optuna_tba import TBAHybridSampler
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
