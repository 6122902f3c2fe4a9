"""Search-space helpers: the union of distributions seen, unit-cube coordinates, moves.

Numerical parameters are mapped to ``[0, 1]`` with Optuna's own
``_SearchSpaceTransform`` (log scale and step handled there), so every move respects
``log`` and ``step``. Categorical parameters are handled by index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from optuna._transform import _SearchSpaceTransform, _untransform_numerical_param
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial

Params = dict[str, Any]


def union_space(trials: Iterable[FrozenTrial]) -> dict[str, BaseDistribution]:
    """Every parameter seen in ``trials`` with its most recent distribution (sorted names)."""
    space: dict[str, BaseDistribution] = {}
    for t in trials:  # callers pass trials in number order
        space.update(t.distributions)
    return dict(sorted(space.items()))


#: Per-distribution facts for the unit-cube mapping, keyed by ``id``. Each entry holds the
#: distribution itself, so its ``id`` cannot be reused by another object while the entry
#: lives (an ``lru_cache`` keyed by the distribution would hash it on every call, which
#: costs more than the mapping).
_NUM_INFO: dict[int, tuple[BaseDistribution, float, float, bool, bool]] = {}


def _num_info(dist: BaseDistribution) -> tuple[BaseDistribution, float, float, bool, bool]:
    """``(dist, low, high, log, single)`` with Optuna's transformed bounds (log applied,
    half a step added on each side)."""
    info = _NUM_INFO.get(id(dist))
    if info is not None and info[0] is dist:
        return info
    raw = _SearchSpaceTransform({"x": dist}, transform_log=True, transform_step=True).bounds[0]
    info = (dist, float(raw[0]), float(raw[1]), bool(getattr(dist, "log", False)), dist.single())
    if len(_NUM_INFO) >= 4096:
        _NUM_INFO.clear()
    _NUM_INFO[id(dist)] = info
    return info


def to_unit(name: str, dist: BaseDistribution, value: Any) -> float:
    """Position of a numerical value in ``[0, 1]`` (log-aware), as Optuna's transform."""
    _, lo, hi, log, single = _num_info(dist)
    if single or hi == lo:  # one value, or a log range too narrow to tell apart: the middle
        return 0.5
    x = math.log(value) if log else float(value)
    return (x - lo) / (hi - lo)


def from_unit(name: str, dist: BaseDistribution, u: float) -> Any:
    """Value at unit position ``u`` (clipped, snapped to ``step``).

    Exactly ``_SearchSpaceTransform(..., transform_0_1=True).untransform``: the same
    affine map from the unit interval, then Optuna's own rounding and clipping. Except for
    a single-valued distribution, whose one value is returned as is: Optuna's log round trip
    can be one ulp off (``exp(log(10.0))`` is ``10.000000000000002``), and a plan holding
    that value would not match the trials, which always hold ``low``.
    """
    _, lo, hi, _, single = _num_info(dist)
    if single:
        return dist.low  # type: ignore[attr-defined]
    u = min(max(float(u), 0.0), 1.0)
    value = _untransform_numerical_param(lo + u * (hi - lo), dist, True)
    # Optuna clips a continuous float just below ``high`` with ``np.nextafter``, which
    # returns a numpy scalar: hand out the plain Python type a trial stores
    return float(value) if isinstance(dist, FloatDistribution) else int(value)


def contains(dist: BaseDistribution, value: Any) -> bool:
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError, IndexError):
        return False


def n_values(dist: BaseDistribution) -> float:
    """Number of distinct values (``inf`` for a continuous float)."""
    if isinstance(dist, CategoricalDistribution):
        return len(dist.choices)
    if dist.single():  # e.g. FloatDistribution(0.0, 0.0): one value, not a continuum
        return 1
    if isinstance(dist, IntDistribution):
        return (dist.high - dist.low) // dist.step + 1
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        return math.floor((dist.high - dist.low) / dist.step + 1e-9) + 1
    return math.inf


def random_value(dist: BaseDistribution, name: str, rng: np.random.Generator) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(rng.integers(len(dist.choices)))]
    return from_unit(name, dist, float(rng.random()))


def neighbour_value(
    dist: BaseDistribution, name: str, value: Any, scale: float, rng: np.random.Generator
) -> Any:
    """A nearby numerical value: Gaussian step of ``scale`` in unit space, reflected at the
    bounds; discrete values always move by at least one step."""
    u0 = to_unit(name, dist, value)
    for _ in range(8):
        u = u0 + float(rng.normal(0.0, scale))
        # Reflect rather than clip, so bounds do not collect repeated proposals.
        while u < 0.0 or u > 1.0:
            u = -u if u < 0.0 else 2.0 - u
        new = from_unit(name, dist, u)
        if new != value:
            return new
    if n_values(dist) > 1:
        # A one-step move for discrete values that the Gaussian kept in place: each value
        # owns a cell of width 1 / n in unit space (Optuna's transform pads the range by
        # half a step on both sides), so one cell over is the next value.
        width = 1.0 / n_values(dist) if math.isfinite(n_values(dist)) else 0.01
        direction = 1.0 if rng.random() < 0.5 else -1.0
        for d in (direction, -direction):
            new = from_unit(name, dist, u0 + d * width)
            if new != value:
                return new
    return value


def grid_values(dist: BaseDistribution, limit: int = 1000) -> list[Any]:
    """Every value of a finite numerical distribution with at most ``limit`` values, in
    order (empty for a continuous one or a larger one)."""
    n = n_values(dist)
    if not math.isfinite(n) or n > limit:
        return []
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high + 1, dist.step))
    # a stepped float: exactly the values Optuna's transform gives (one per cell)
    return [from_unit("", dist, (k + 0.5) / n) for k in range(int(n))]


def value_key(value: Any) -> str:
    """Hashable identity of one value (``repr`` keeps 1 and 1.0 and True apart; a numpy
    scalar, which Optuna's own transform can hand out, is its Python value)."""
    if isinstance(value, np.generic):
        value = value.item()
    return f"{type(value).__name__}:{value!r}"


def config_key(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Hashable identity of a configuration (see :func:`value_key`)."""
    return tuple(sorted((k, value_key(v)) for k, v in params.items()))


class VisitedSet:
    """Configurations already evaluated (or in flight), for duplicate checks.

    A planned configuration ``plan`` duplicates a visited ``v`` when ``plan`` agrees with
    ``v`` on every parameter of ``v``: a define-by-run objective that follows the plan then
    suggests exactly ``v``'s parameters again.
    """

    def __init__(self, configs: Iterable[Mapping[str, Any]] = ()) -> None:
        self._by_names: dict[tuple[str, ...], set[tuple[tuple[str, str], ...]]] = {}
        self._partial: set[tuple[tuple[str, str], ...]] = set()
        self._claims: set[frozenset[tuple[str, str]]] = set()
        # The evaluated configurations alone, copied when the first in-flight one is added
        # (None until then: the same as ``_by_names``).
        self._settled: dict[tuple[str, ...], set[tuple[tuple[str, str], ...]]] | None = None
        for c in configs:
            self.add(c)

    def copy(self) -> VisitedSet:
        out = VisitedSet()
        out._by_names = {k: set(v) for k, v in self._by_names.items()}
        out._partial = set(self._partial)
        out._claims = set(self._claims)
        if self._settled is not None:
            out._settled = {k: set(v) for k, v in self._settled.items()}
        return out

    @property
    def has_inflight(self) -> bool:
        """Whether other trials' in-flight configurations count here too."""
        return self._settled is not None or bool(self._partial) or bool(self._claims)

    def settled(self) -> VisitedSet:
        """The evaluated configurations alone, without the in-flight ones, which count
        conservatively (a plan's projections, a partial claim): the fallback when every
        candidate looks visited, since a possible clash with a running trial is better than
        a certain repeat of a finished one."""
        out = VisitedSet()
        source = self._by_names if self._settled is None else self._settled
        out._by_names = {k: set(v) for k, v in source.items()}
        return out

    def _unsettle(self) -> None:
        if self._settled is None:
            self._settled = {k: set(v) for k, v in self._by_names.items()}

    def add_inflight(self, plan: Mapping[str, Any]) -> None:
        """A RUNNING trial's plan. A define-by-run objective evaluates only the parameters
        its branch asks for, so the plan also counts on every parameter set that a visited
        configuration has and the plan covers: two plans that differ only in parameters
        their branch never asks for are the same configuration. (Conservative: at worst a
        concurrent proposal is redrawn once more.)"""
        if not plan:
            return
        self._unsettle()
        for names in list(self._by_names):
            if len(names) < len(plan) and all(n in plan for n in names):
                self._add({n: plan[n] for n in names}, None, settled=False)
        self._add(plan, None, settled=False)

    def inflight_matches(self, inflight: Mapping[str, Any], plan: Mapping[str, Any]) -> bool:
        """Whether ``plan`` duplicates another trial's in-flight configuration, on its own
        or projected on a parameter set a visited configuration has (see
        :meth:`add_inflight`); this set itself is not consulted otherwise."""
        probe = VisitedSet()
        probe._by_names = {names: set() for names in self._by_names}
        probe.add_inflight(inflight)
        return probe.contains_plan(plan)

    def add_claim(self, plan: Mapping[str, Any]) -> None:
        """Another trial's in-flight configuration, seen while this trial's own parameters
        are still being sampled one at a time: :meth:`completes_to_visited` then avoids any
        partial configuration that the claim agrees with on every parameter (whether or not
        the objective asks for more, the claiming trial would evaluate the same values)."""
        if plan:
            self._claims.add(frozenset(config_key(plan)))

    def add_partial(self, params: Mapping[str, Any]) -> None:
        """Parameters suggested so far by a RUNNING trial with no stored plan: used only to
        stop another trial from completing the very same parameter set."""
        if params:
            self._partial.add(config_key(params))

    def add(
        self, params: Mapping[str, Any], key: tuple[tuple[str, str], ...] | None = None
    ) -> None:
        """An evaluated configuration."""
        self._add(params, key, settled=True)

    def _add(
        self, params: Mapping[str, Any], key: tuple[tuple[str, str], ...] | None, settled: bool
    ) -> None:
        if not params:
            return
        key = key if key is not None else config_key(params)
        names = tuple(k for k, _ in key)
        self._by_names.setdefault(names, set()).add(key)
        if settled and self._settled is not None:
            self._settled.setdefault(names, set()).add(key)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_names.values())

    def contains_plan(self, plan: Mapping[str, Any]) -> bool:
        plan_keys: dict[str, str] | None = None
        for names, keys in self._by_names.items():
            if all(n in plan for n in names):
                if plan_keys is None:  # each value keyed once, whatever the parameter sets
                    plan_keys = {n: value_key(v) for n, v in plan.items()}
                # ``names`` is sorted (it comes from a config key): this is the projection's
                # config_key
                if tuple((n, plan_keys[n]) for n in names) in keys:
                    return True
        return False

    def prefix_exhausted(
        self, plan: Mapping[str, Any], space: Mapping[str, BaseDistribution]
    ) -> bool:
        """True when every completion of ``plan`` by the (finite) parameters it lacks has
        been visited: e.g. TPE fixed the parameters of its relative space and every value of
        a conditional parameter sampled later was already tried with them."""
        have = set(plan)
        plan_key = dict(config_key(plan))
        for names, keys in self._by_names.items():
            extra = [n for n in names if n not in have]
            if not extra or not have <= set(names) or any(n not in space for n in extra):
                continue
            total = math.prod(n_values(space[n]) for n in extra)
            if not math.isfinite(total):
                continue
            count = sum(1 for key in keys if all(plan_key.get(n) == v for n, v in key if n in have))
            if count >= total:
                return True
        return False

    def completes_to_visited(
        self, partial: Mapping[str, Any], singles: Mapping[str, Any] | None = None
    ) -> bool:
        """True when ``partial`` (params suggested so far), completed with the values of
        single-valued parameters (which never reach a sampler), equals a visited config."""
        singles = singles or {}
        key = config_key(partial)
        if key in self._partial or any(claim.issuperset(key) for claim in self._claims):
            return True
        have = set(partial)
        for names, keys in self._by_names.items():
            extra = set(names) - have
            if have <= set(names) and extra <= singles.keys():
                full = {n: partial[n] if n in partial else singles[n] for n in names}
                if config_key(full) in keys:
                    return True
        return False

    def leads_to_visited(
        self,
        partial: Mapping[str, Any],
        singles: Mapping[str, Any] | None = None,
        space: Mapping[str, BaseDistribution] | None = None,
        rest: Mapping[str, Any] | None = None,
    ) -> bool:
        """True when ``partial`` (params suggested so far) can only end as a visited
        configuration, as far as the history shows:

        * it completes to one with single-valued parameters (:meth:`completes_to_visited`);
        * with ``space``: a visited configuration has the same values and more parameters,
          and every completion of ``partial`` by those (finite) parameters was visited
          (:meth:`prefix_exhausted`), as when TPE picked the one ``width`` whose every
          ``layers`` value was tried;
        * with ``rest`` (the plan's values, for a trial that follows a plan): ``partial``
          followed by the plan for the parameters still to come is visited, as when a
          plan's value fell outside this trial's distribution and was redrawn.
        """
        if self.completes_to_visited(partial, singles):
            return True
        if space is not None and self.prefix_exhausted(partial, space):
            return True
        if not rest:
            return False
        return self.contains_plan({**rest, **(singles or {}), **partial})

    def first_unvisited(
        self,
        partial: Mapping[str, Any],
        name: str,
        candidates: Iterable[Any],
        singles: Mapping[str, Any] | None = None,
        space: Mapping[str, BaseDistribution] | None = None,
        rest: Mapping[str, Any] | None = None,
    ) -> tuple[bool, Any]:
        """The first of ``candidates`` for ``name`` that, added to ``partial``, does not
        lead to a visited configuration (:meth:`leads_to_visited`): ``(True, value)``, or
        ``(False, None)`` when every candidate does. Candidates are drawn lazily, only up
        to the one returned."""
        probe = dict(partial)
        for value in candidates:
            probe[name] = value
            if not self.leads_to_visited(probe, singles, space, rest):
                return True, value
        return False, None


def unit_vector(params: Mapping[str, Any], space: Mapping[str, BaseDistribution]) -> np.ndarray:
    """Numerical params in unit coordinates (NaN where absent); categoricals as index/len."""
    out = np.full(len(space), np.nan)
    for i, (name, dist) in enumerate(space.items()):
        if name not in params:
            continue
        v = params[name]
        if isinstance(dist, CategoricalDistribution):
            try:
                out[i] = dist.to_internal_repr(v)
            except ValueError:
                continue
        elif contains(dist, v):
            out[i] = to_unit(name, dist, v)
    return out


def distances(x: np.ndarray, others: np.ndarray, categorical_mask: np.ndarray) -> np.ndarray:
    """Normalised distance from ``x`` to each row of ``others`` (missing params count 0.5)."""
    return distance_matrix(x[None, :], others, categorical_mask)[0]


def distance_matrix(xs: np.ndarray, others: np.ndarray, categorical_mask: np.ndarray) -> np.ndarray:
    """:func:`distances` from each row of ``xs`` to each row of ``others`` (one row per
    ``xs`` row): per parameter the absolute unit-cube difference, 0/1 for categoricals,
    0.5 where either side lacks the parameter; then the root mean square."""
    if others.size == 0 or xs.size == 0:
        return np.zeros((len(xs), len(others)))
    diff = np.abs(others[None, :, :] - xs[:, None, :])
    diff[:, :, categorical_mask] = (diff[:, :, categorical_mask] > 0).astype(float)
    diff = np.where(np.isnan(diff), 0.5, diff)
    return np.sqrt(np.mean(diff**2, axis=2))


def single_values(space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """Parameters whose distribution has one value (Optuna never asks a sampler for them)."""
    out: dict[str, Any] = {}
    for name, dist in space.items():
        if dist.single():
            if isinstance(dist, CategoricalDistribution):
                out[name] = dist.choices[0]
            else:
                out[name] = dist.low  # type: ignore[attr-defined]
    return out


def categorical_names(space: Mapping[str, BaseDistribution]) -> list[str]:
    return [
        n for n, d in space.items() if isinstance(d, CategoricalDistribution) and len(d.choices) > 1
    ]


def numerical_names(space: Mapping[str, BaseDistribution]) -> list[str]:
    return [
        n for n, d in space.items() if not isinstance(d, CategoricalDistribution) and not d.single()
    ]


def categorical_mask(space: Mapping[str, BaseDistribution]) -> np.ndarray:
    return np.array([isinstance(d, CategoricalDistribution) for d in space.values()], dtype=bool)


def sequence_choice(seq: Sequence[Any], rng: Any) -> Any:
    return seq[int(rng.integers(len(seq)))]
