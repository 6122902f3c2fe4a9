"""Phase-1 proposals: space-filling starts, annealing moves, repairs; never a duplicate.

Every proposal is a *plan*: a value for every parameter seen so far. A define-by-run
objective takes the values of the parameters it asks for; a parameter the plan lacks is
sampled fresh.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution

from optuna_tba._annealing import AnnealingState
from optuna_tba._blacklist import Blacklist
from optuna_tba._outcomes import Outcome, Record
from optuna_tba._space import (
    VisitedSet,
    categorical_mask,
    categorical_names,
    distances,
    from_unit,
    neighbour_value,
    numerical_names,
    random_value,
    sequence_choice,
    to_unit,
    unit_vector,
)

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class MoveConfig:
    n_startup_trials: int = 4
    p_struct: float = 0.35
    p_explore: float = 0.1
    p_repair: float = 0.25
    n_candidates: int = 6
    screening: bool = True
    max_attempts: int = 60


@dataclasses.dataclass
class Proposal:
    plan: Params
    reason: str
    duplicate: bool = False
    repair_of: int | None = None


class Proposer:
    """Builds one phase-1 plan from the history."""

    def __init__(
        self,
        space: Mapping[str, BaseDistribution],
        recs: Sequence[Record],
        blacklist: Blacklist,
        visited: VisitedSet,
        config: MoveConfig,
        rng: np.random.Generator,
        repairs: Mapping[int, int] | None = None,
    ) -> None:
        self.repairs = dict(repairs or {})
        self.space = dict(space)
        self.recs = [r for r in recs if r.outcome is not Outcome.RUNNING]
        self.blacklist = blacklist
        self.visited = visited
        self.cfg = config
        self.rng = rng
        self._cat = categorical_names(self.space)
        self._num = numerical_names(self.space)
        self._mask = categorical_mask(self.space)
        self._points = (
            np.array([unit_vector(r.params, self.space) for r in self.recs])
            if self.recs
            else np.zeros((0, len(self.space)))
        )

    # ------------------------------------------------------------------ public
    def propose(self, state: AnnealingState) -> Proposal:
        if not self.space:
            return Proposal({}, "first trial: sampled fresh")
        if len(self.recs) < self.cfg.n_startup_trials:
            return self._first_new(lambda: self._space_filling(), "start-up: space-filling")
        u = self.rng.random()
        if u < self.cfg.p_explore:
            return self._first_new(lambda: self._space_filling(), "exploration: space-filling")
        repair = self._repair_base(state)
        if repair is not None and state.best is not None and self.rng.random() < self.cfg.p_repair:
            best = state.best
            prop = self._best_of(
                lambda: self._towards(best, repair),
                f"repair: between feasible trial {best.number} and infeasible high-value "
                f"trial {repair.number}",
            )
            prop.repair_of = repair.number
            return prop
        base = state.current
        if base is None:
            return self._first_new(lambda: self._space_filling(), "no base yet: space-filling")
        scale = 0.05 + 0.25 * state.temperature
        stage = "feasibility" if state.best is None else "annealing"
        return self._best_of(
            lambda: self._neighbour(base, scale, struct=None),
            f"{stage} move from trial {base.number} (T={state.temperature:.2f})",
        )

    # ------------------------------------------------------------------ plans
    def _space_filling(self) -> Params:
        """Least-used allowed categorical values; maximin numerical point."""
        plan: Params = {}
        counts = self._category_counts()
        for name in self._cat:
            dist = self.space[name]
            assert isinstance(dist, CategoricalDistribution)
            allowed = self.blacklist.allowed(name, dist, plan)
            least = min(counts[name].get(repr(c), 0) for c in allowed)
            plan[name] = sequence_choice([c for c in allowed if counts[name].get(repr(c), 0) == least], self.rng)
        best: Params | None = None
        best_d = -1.0
        for _ in range(24):
            cand = dict(plan)
            for name, dist in self.space.items():
                if name not in cand:
                    cand[name] = random_value(dist, name, self.rng)
            d = self._min_distance(cand)
            if d > best_d:
                best, best_d = cand, d
        assert best is not None
        return best

    def _neighbour(self, base: Record, scale: float, struct: bool | None) -> Params:
        plan: Params = {}
        for name, dist in self.space.items():
            plan[name] = base.params[name] if name in base.params else random_value(dist, name, self.rng)
        change_cat = bool(self._cat) and (
            struct if struct is not None else (not self._num or self.rng.random() < self.cfg.p_struct)
        )
        if change_cat:
            name = sequence_choice(self._cat, self.rng)
            dist = self.space[name]
            assert isinstance(dist, CategoricalDistribution)
            options = [c for c in self.blacklist.allowed(name, dist, plan) if c != plan[name]]
            if options:
                plan[name] = sequence_choice(options, self.rng)
            if self._num and self.rng.random() < 0.3:
                n = sequence_choice(self._num, self.rng)
                plan[n] = neighbour_value(self.space[n], n, plan[n], scale, self.rng)
        elif self._num:
            k = 1 if len(self._num) == 1 or self.rng.random() < 0.6 else 2
            for idx in self.rng.choice(len(self._num), size=min(k, len(self._num)), replace=False):
                n = self._num[int(idx)]
                plan[n] = neighbour_value(self.space[n], n, plan[n], scale, self.rng)
        return self._apply_blacklist(plan)

    def _towards(self, feasible: Record, infeasible: Record) -> Params:
        """A point on the segment from a feasible to an infeasible trial (unit space),
        closer to the infeasible one: the constraint boundary usually lies in between."""
        t = float(self.rng.uniform(0.4, 0.95))
        plan: Params = {}
        for name, dist in self.space.items():
            if name in infeasible.params:
                plan[name] = infeasible.params[name]
            elif name in feasible.params:
                plan[name] = feasible.params[name]
            else:
                plan[name] = random_value(dist, name, self.rng)
            if name in self._num and name in feasible.params and name in infeasible.params:
                uf = to_unit(name, dist, feasible.params[name])
                ui = to_unit(name, dist, infeasible.params[name])
                plan[name] = from_unit(name, dist, uf + t * (ui - uf))
        return self._apply_blacklist(plan)

    def _apply_blacklist(self, plan: Params) -> Params:
        for name in self._cat:
            dist = self.space[name]
            assert isinstance(dist, CategoricalDistribution)
            allowed = self.blacklist.allowed(name, dist, plan)
            if plan[name] not in allowed:
                plan[name] = sequence_choice(allowed, self.rng)
        return plan

    # ------------------------------------------------------------------ selection
    def _best_of(self, make: Any, reason: str) -> Proposal:
        """Several candidate moves; keep the non-duplicate with the lowest crash risk."""
        cands: list[Params] = []
        for _ in range(self.cfg.max_attempts):
            plan = make()
            if not self.visited.contains_plan(plan):
                cands.append(plan)
                if len(cands) >= (self.cfg.n_candidates if self.cfg.screening else 1):
                    break
        if not cands:
            return self._first_new(lambda: self._space_filling(), reason + "; neighbourhood exhausted, space-filling")
        if len(cands) == 1:
            return Proposal(cands[0], reason)
        risks = np.array([self._crash_risk(c) for c in cands])
        i = int(self.rng.choice(np.flatnonzero(risks <= risks.min() + 1e-12)))
        return Proposal(cands[i], reason + f"; screened {len(cands)} candidates (crash risk {risks[i]:.2f})")

    def _first_new(self, make: Any, reason: str) -> Proposal:
        for _ in range(self.cfg.max_attempts):
            plan = make()
            if not self.visited.contains_plan(plan):
                return Proposal(plan, reason)
        for _ in range(10 * self.cfg.max_attempts):
            plan = self._apply_blacklist(
                {n: random_value(d, n, self.rng) for n, d in self.space.items()}
            )
            if not self.visited.contains_plan(plan):
                return Proposal(plan, reason + "; random unvisited")
        plan = {n: random_value(d, n, self.rng) for n, d in self.space.items()}
        return Proposal(plan, "space exhausted: every configuration found was already evaluated; "
                              "proposing a duplicate", duplicate=True)

    # ------------------------------------------------------------------ models
    def _crash_risk(self, plan: Params) -> float:
        """Kernel-weighted crash fraction among past trials near ``plan``."""
        if not self.cfg.screening or not len(self._points):
            return 0.0
        x = unit_vector(plan, self.space)
        d = distances(x, self._points, self._mask)
        w = np.exp(-((d / 0.15) ** 2))
        crash = np.array([r.outcome is Outcome.CRASH for r in self.recs], dtype=float)
        return float((w @ crash) / (w.sum() + 0.5))

    def _min_distance(self, plan: Params) -> float:
        if not len(self._points):
            return math.inf
        x = unit_vector(plan, self.space)
        return float(distances(x, self._points, self._mask).min())

    def _category_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {n: {} for n in self._cat}
        for r in self.recs:
            for n in self._cat:
                if n in r.params:
                    key = repr(r.params[n])
                    counts[n][key] = counts[n].get(key, 0) + 1
        return counts

    def _repair_base(self, state: AnnealingState) -> Record | None:
        """The best-valued infeasible (not crashed) trial better than the best feasible."""
        best_val = state.best.value if state.best is not None and state.best.value is not None else math.inf
        cands = [
            r for r in self.recs
            if r.outcome is Outcome.INFEASIBLE and r.value is not None and r.value < best_val
            and self.repairs.get(r.number, 0) < 3
        ]
        if not cands:
            return None
        return min(cands, key=lambda r: (r.value, r.violation))
