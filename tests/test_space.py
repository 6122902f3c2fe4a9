"""The unit-cube helpers agree exactly with Optuna's own search-space transform."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from optuna._transform import _SearchSpaceTransform
from optuna.distributions import (
    BaseDistribution,
    FloatDistribution,
    IntDistribution,
    _get_single_value,
)

from optuna_tba._space import (
    distance_matrix,
    distances,
    from_unit,
    grid_values,
    n_values,
    to_unit,
)


@st.composite
def numerical_distributions(draw: st.DrawFn) -> BaseDistribution:
    kind = draw(st.sampled_from(["float", "float_log", "float_step", "int", "int_log", "int_step"]))
    if kind.startswith("int"):
        low = draw(st.integers(1 if kind == "int_log" else -50, 50))
        step = draw(st.integers(1, 7)) if kind == "int_step" else 1
        high = low + step * draw(st.integers(0, 40))
        return IntDistribution(low, high, log=kind == "int_log", step=step)
    flow = draw(st.floats(1e-4 if kind == "float_log" else -1e3, 1e3))
    if kind == "float_step":
        fstep = draw(st.floats(1e-3, 10.0))
        return FloatDistribution(flow, flow + fstep * draw(st.integers(0, 40)), step=fstep)
    return FloatDistribution(flow, flow + draw(st.floats(0.0, 1e4)), log=kind == "float_log")


def _one_step(low: float, step: float) -> FloatDistribution:
    """``FloatDistribution(low, low + step, step=step)`` without Optuna's warning that it
    adjusted ``high`` (which rounding can make necessary)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FloatDistribution(low, low + step, step=step)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(numerical_distributions(), st.floats(-0.5, 1.5))
# found by a random run: log(low) == log(high) although low != high, so to_unit divided by
# zero (Optuna's transform puts such a value in the middle)
@example(FloatDistribution(1e-4, 0.00010000000000000003, log=True), 0.0)
# found by a random run: Optuna calls this stepped range single (in decimal arithmetic,
# high - low < step) but its transform still maps u = 1 to ``high``; a trial gets ``low``
@example(_one_step(16.72470488115482, 1.441966629183826), 1.0)
# found by exploring the sampler's property tests: at u = 1 Optuna returns np.float64
@example(FloatDistribution(0.0, 1.0), 1.0)
@pytest.mark.filterwarnings("ignore:The distribution is specified by")
def test_from_unit_is_optunas_untransform(dist: BaseDistribution, u: float) -> None:
    reference = _SearchSpaceTransform(
        {"x": dist}, transform_log=True, transform_step=True, transform_0_1=True
    ).untransform(np.array([min(max(u, 0.0), 1.0)]))["x"]
    value = from_unit("x", dist, u)
    if dist.single():
        # the one value a trial gets (Optuna's ``_get_single_value``); Optuna's log round
        # trip can be one ulp off it, and a stepped range it calls single can even map u = 1
        # to ``high``
        assert value == _get_single_value(dist) and type(value) is type(dist.low)  # type: ignore[attr-defined]
        assert to_unit("x", dist, value) == 0.5  # one value: the middle, by convention
        return
    # the same value, as the plain Python type a trial stores (Optuna's transform returns
    # a numpy scalar where it clips a continuous float just below ``high``)
    assert value == reference
    assert type(value) is (float if isinstance(dist, FloatDistribution) else int)
    # ... and the value maps back to where Optuna's transform puts it.
    expected = _SearchSpaceTransform(
        {"x": dist}, transform_log=True, transform_step=True, transform_0_1=True
    ).transform({"x": value})[0]
    assert to_unit("x", dist, value) == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(0, 8), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_distance_matrix_rows_are_distances(n_x: int, n_others: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = rng.random((n_x, dim))
    others = rng.random((n_others, dim))
    xs[rng.random(xs.shape) < 0.2] = np.nan
    others[rng.random(others.shape) < 0.2] = np.nan
    mask = rng.random(dim) < 0.4
    xs[:, mask] = rng.integers(0, 3, size=(n_x, int(mask.sum())))
    others[:, mask] = rng.integers(0, 3, size=(n_others, int(mask.sum())))
    got = distance_matrix(xs, others, mask)
    assert got.shape == (n_x, n_others)
    for i in range(n_x):
        np.testing.assert_array_equal(got[i], distances(xs[i], others, mask))


def test_single_valued_log_float_is_its_own_value() -> None:
    # found by fuzzing the sampler: exp(log(10.0)) == 10.000000000000002, so a plan built
    # from Optuna's untransform never matched the trial (which holds 10.0) and the sampler
    # proposed the one configuration again without declaring it a duplicate
    dist = FloatDistribution(10.0, 10.0, log=True)
    assert from_unit("x", dist, 0.3) == 10.0


def test_a_single_valued_float_has_one_value() -> None:
    # found by fuzzing: FloatDistribution(0.0, 0.0) counted as a continuum, so phase 2 never
    # saw that the one configuration was exhausted and repeated it without saying so
    assert n_values(FloatDistribution(0.0, 0.0)) == 1
    assert n_values(FloatDistribution(1.0, 1.0, log=True)) == 1
    assert n_values(FloatDistribution(0.0, 1.0)) == float("inf")


@settings(max_examples=200, deadline=None)
@given(numerical_distributions())
@pytest.mark.filterwarnings("ignore:The distribution is specified by")
def test_grid_values_are_every_value_once(dist: BaseDistribution) -> None:
    values = grid_values(dist, limit=50)
    n = n_values(dist)
    if n > 50:
        assert values == []
        return
    assert len(values) == n and len({repr(v) for v in values}) == n
    assert all(dist._contains(dist.to_internal_repr(v)) for v in values)
    # the values Optuna's transform gives: each maps back to its own cell
    units = [to_unit("x", dist, v) for v in values]
    assert units == sorted(units)
