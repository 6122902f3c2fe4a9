"""Unit tests of the duplicate checks behind the samplers' no-duplicate guarantee."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from optuna_tba._space import VisitedSet

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
