"""Phase-1 proposals: fresh starts, annealing moves, repairs; never a duplicate.

Every proposal is a *plan*: a value for every parameter seen so far. A define-by-run
objective takes the values of the parameters it asks for; a parameter the plan lacks is
sampled fresh.
"""

from __future__ import annotations

import dataclasses
import functools
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
    distance_matrix,
    from_unit,
    neighbour_value,
    numerical_names,
    random_value,
    sequence_choice,
    to_unit,
    unit_vector,
    value_key,
)

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class MoveConfig:
    n_startup_trials: int = 4
    p_struct: float = 0.35
    p_explore: float = 0.1
    p_repair: float = 0.4
    n_candidates: int = 6
    screening: bool = True
    screening_model: str = "kernel"
    risk_threshold: float = 0.5
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
        unit_cache: Any = None,
    ) -> None:
        self.repairs = dict(repairs or {})
        self._unit_cache = unit_cache
        self.space = dict(space)
        self.recs = [r for r in recs if r.outcome is not Outcome.RUNNING]
        self.blacklist = blacklist
        self.visited = visited
        self.cfg = config
        self.rng = rng
        self._cat = categorical_names(self.space)
        self._num = numerical_names(self.space)
        self._mask = categorical_mask(self.space)
        self._points_cache: np.ndarray | None = None
        self._classifier: Any = None
        self._classifier_fitted = False

    @property
    def _points(self) -> np.ndarray:
        """Unit-cube coordinates of the finished trials (computed on first use, cached)."""
        if self._points_cache is None:
            rows = []
            for r in self.recs:
                vec = self._unit_cache.get(r.number) if self._unit_cache is not None else None
                if vec is None:
                    vec = unit_vector(r.params, self.space)
                    if self._unit_cache is not None:
                        self._unit_cache.put(r.number, vec)
                rows.append(vec)
            self._points_cache = np.array(rows) if rows else np.zeros((0, len(self.space)))
        return self._points_cache

    # ------------------------------------------------------------------ public
    def propose(self, state: AnnealingState) -> Proposal:
        if not self.space:
            return Proposal({}, "first trial: sampled fresh")
        if len(self.recs) < self.cfg.n_startup_trials:
            return self._best_of(self._fresh_point, "start-up: fresh point")
        u = self.rng.random()
        if u < self.cfg.p_explore:
            return self._best_of(self._fresh_point, "exploration: fresh point")
        if self.rng.random() < self.cfg.p_repair:
            prop = self.repair()
            if prop is not None:
                return prop
        base = state.current
        if base is None:
            return self._best_of(self._fresh_point, "no base yet: fresh point")
        scale = 0.05 + 0.25 * state.temperature
        stage = "feasibility" if state.best is None else "annealing"
        return self._best_of(
            lambda: self._neighbour(base, scale, struct=None),
            f"{stage} move from trial {base.number} (T={state.temperature:.2f})",
        )

    # ------------------------------------------------------------------ plans
    def _fresh_point(self) -> Params:
        """Least-used allowed categorical values; uniformly random numerical values.

        Uniform, not maximin: the best of many random points by distance to the history
        lands on the edges of the box, where extreme settings crash or break limits
        (see "Start-up" on the algorithm page for the measurement). Candidates are
        screened for crash risk like moves (:meth:`_best_of`).
        """
        plan: Params = {}
        counts = self._category_counts()
        for name in self._cat:
            dist = self.space[name]
            assert isinstance(dist, CategoricalDistribution)
            allowed = self.blacklist.allowed(name, dist, plan)
            least = min(counts[name].get(repr(c), 0) for c in allowed)
            plan[name] = sequence_choice(
                [c for c in allowed if counts[name].get(repr(c), 0) == least], self.rng
            )
        for name, dist in self.space.items():
            if name not in plan:
                plan[name] = random_value(dist, name, self.rng)
        return plan

    def _completed(self, params: Mapping[str, Any]) -> Params:
        """``params`` with every other parameter of the space drawn at random (in space
        order): a plan a define-by-run objective can take whatever it asks for."""
        return {
            name: params[name] if name in params else random_value(dist, name, self.rng)
            for name, dist in self.space.items()
        }

    def _neighbour(self, base: Record, scale: float, struct: bool | None) -> Params:
        plan = self._completed(base.params)
        change_cat = bool(self._cat) and (
            struct
            if struct is not None
            else (not self._num or self.rng.random() < self.cfg.p_struct)
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

    def repair(self) -> Proposal | None:
        """A move meant to make a high-value infeasible trial feasible (None if there is no
        such trial).

        The target is the best-valued infeasible (not crashed) trial that beats the best
        feasible value and has had fewer than 3 repair moves, unless the history shows that
        its violation does not depend on the numerical parameters. When other trials share its
        categorical values, a proximity-weighted linear fit of the signed constraint margin
        on the numerical parameters gives a step to the predicted boundary (a secant step);
        otherwise the move goes most of the way from the best feasible trial towards it.
        When no numerical step is new (or there is no numerical parameter), one categorical
        value changes (:meth:`_categorical_repair`).
        """
        feasible = [r for r in self.recs if r.outcome is Outcome.FEASIBLE and r.value is not None]
        best = min(feasible, key=lambda r: r.value) if feasible else None  # type: ignore[arg-type,return-value]
        target = self._repair_base(best)
        if target is None:
            return None
        family = [r for r in self._families.get(self._cat_key(target), [])
                  if math.isfinite(r.margin)]
        names = [n for n in self._num if n in target.params]
        if len(family) >= 2 and names:
            step = self._secant_step(target, family, names)
            make = lambda: self._secant(target, names, step)  # noqa: E731
            how = f"secant step on the constraint margin from {len(family)} similar trials"
        elif best is not None:
            make = lambda: self._towards(best, target)  # noqa: E731
            how = f"towards feasible trial {best.number}"
        else:
            make = lambda: self._neighbour(target, 0.1, struct=False)  # noqa: E731
            how = "local move"
        reason = f"repair of infeasible high-value trial {target.number}: {how}"
        plans = [make() for _ in range(self.cfg.n_candidates)]
        fresh = [p for p in plans if not self.visited.contains_plan(p)]
        if not fresh:
            # The numerical repair is exhausted (e.g. already at a bound) or there is no
            # numerical parameter: change one categorical value of the target instead.
            first = self._categorical_repair(target, best)
            reason = (
                f"repair of infeasible high-value trial {target.number}: categorical change "
                "predicted to lower the violation"
            )
            if first is None:  # every one-value change is visited: a random neighbour
                moves = (
                    self._neighbour(target, 0.1, struct=True)
                    for _ in range(self.cfg.max_attempts)
                )
                first = next((p for p in moves if not self.visited.contains_plan(p)), None)
                reason = (
                    f"repair of infeasible high-value trial {target.number}: categorical change"
                )
            fresh = [] if first is None else [first]
        if not fresh:
            return None
        return Proposal(fresh[0], reason, repair_of=target.number)

    def _categorical_repair(self, target: Record, best: Record | None) -> Params | None:
        """The unvisited change of one categorical value of ``target`` that the history
        predicts to be least violated while still beating the best feasible value.

        The prediction is a main effect: a change from value ``a`` to ``b`` of parameter
        ``p`` shifts the target's violation (and its value) by the difference between the
        mean violation (value) of the finished, non-crashed trials with ``p = b`` and those
        with ``p = a``; a value without such trials predicts no shift. Candidates that are
        predicted to keep the target's advantage over the best feasible value come first,
        then the lowest predicted violation; ties are broken at random. None when every
        one-value change is visited (or banned).
        """
        ran = [r for r in self.recs if r.outcome in (Outcome.FEASIBLE, Outcome.INFEASIBLE)]
        best_val = best.value if best is not None and best.value is not None else math.inf
        base = self._completed(target.params)
        scored: list[tuple[bool, float, float, Params]] = []
        for name in self._cat:
            if name not in target.params:
                continue
            dist = self.space[name]
            assert isinstance(dist, CategoricalDistribution)
            violations: dict[str, list[float]] = {}
            values: dict[str, list[float]] = {}
            for r in ran:
                if name in r.params and math.isfinite(r.violation):
                    key = value_key(r.params[name])
                    violations.setdefault(key, []).append(r.violation)
                    if r.value is not None and math.isfinite(r.value):
                        values.setdefault(key, []).append(r.value)
            current = value_key(target.params[name])
            for choice in self.blacklist.allowed(name, dist, base):
                key = value_key(choice)
                if key == current:
                    continue
                plan = self._apply_blacklist({**base, name: choice})
                if self.visited.contains_plan(plan):
                    continue
                d_violation = _mean_shift(violations, current, key)
                d_value = _mean_shift(values, current, key)
                beats_best = target.value is not None and target.value + d_value < best_val
                scored.append(
                    (not beats_best, target.violation + d_violation, float(self.rng.random()), plan)
                )
        if not scored:
            return None
        return min(scored, key=lambda t: t[:3])[3]

    def _secant_step(
        self, target: Record, family: Sequence[Record], names: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The secant step for ``target`` in unit coordinates of ``names``: a
        proximity-weighted linear fit of the signed constraint margin of ``family``, and the
        step to the fit's predicted boundary (a tenth past it, at most 0.5 long). Returns
        ``(x_target, step)``, or None when the fit has fewer than two trials or no slope.
        The fit does not depend on the random draws, so one repair computes it once for all
        its candidates."""
        X = np.array(
            [
                [to_unit(n, self.space[n], r.params[n]) if n in r.params else np.nan for n in names]
                for r in family
            ]
        )
        keep = ~np.isnan(X).any(axis=1)
        X, y = X[keep], np.array([r.margin for r in family])[keep]
        if len(X) < 2:
            return None
        xt = np.array([to_unit(n, self.space[n], target.params[n]) for n in names])
        w = np.exp(-((np.linalg.norm(X - xt, axis=1) / 0.3) ** 2))
        A = np.hstack([np.ones((len(X), 1)), X]) * np.sqrt(w)[:, None]
        beta = np.linalg.solve(A.T @ A + 1e-3 * np.eye(A.shape[1]), A.T @ (y * np.sqrt(w)))
        g = beta[1:]
        if float(g @ g) < 1e-9:
            return None
        mt = float(beta[0] + xt @ g)
        step = -(mt + 0.1 * max(abs(mt), 0.1)) * g / float(g @ g)
        norm = float(np.linalg.norm(step))
        if norm > 0.5:
            step *= 0.5 / norm
        return xt, step

    def _secant(
        self,
        target: Record,
        names: Sequence[str],
        step: tuple[np.ndarray, np.ndarray] | None,
    ) -> Params:
        """One repair candidate: a small move from ``target``, then (with a fitted
        ``step``, see :meth:`_secant_step`) the step plus Gaussian noise of 0.01 for the
        numerical ``names``."""
        plan = self._neighbour(target, 0.02, struct=False)
        if step is None:
            return plan
        xt, delta = step
        new = xt + delta + self.rng.normal(0.0, 0.01, size=len(names))
        for n, u in zip(names, new):
            plan[n] = from_unit(n, self.space[n], float(u))
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
            return self._first_new(
                self._fresh_point, reason + "; neighbourhood exhausted, fresh point"
            )
        if len(cands) == 1:
            return Proposal(cands[0], reason)
        # Keep the first candidate (they are in random order) that the history does not
        # predict to crash; if all look risky, the least risky one.
        risks = self._screening_risks(cands)
        safe = np.flatnonzero(risks < self.cfg.risk_threshold)
        i = int(safe[0]) if len(safe) else int(np.argmin(risks))
        note = "" if i == 0 else f"; skipped {i} candidate(s) predicted to crash"
        return Proposal(cands[i], reason + note)

    def _first_new(self, make: Any, reason: str) -> Proposal:
        for _ in range(self.cfg.max_attempts):
            plan = make()
            if not self.visited.contains_plan(plan):
                return Proposal(plan, reason)
        for _ in range(10 * self.cfg.max_attempts):
            plan = self._random_plan()
            if not self.visited.contains_plan(plan):
                return Proposal(plan, reason + "; random unvisited")
        if self.visited.has_inflight:
            # Every configuration found looked visited, counting the ones other workers are
            # running (conservatively): one that is only in flight beats a repeat of a
            # finished one.
            settled = self.visited.settled()
            for _ in range(10 * self.cfg.max_attempts):
                plan = self._random_plan()
                if not settled.contains_plan(plan):
                    return Proposal(
                        plan,
                        reason + "; every unvisited configuration looked in flight elsewhere: "
                        "one not evaluated yet (possible duplicate of a running trial)",
                    )
        return Proposal(
            self._random_plan(),
            "space exhausted: every configuration found was already evaluated; "
            "proposing a duplicate",
            duplicate=True,
        )

    def _random_plan(self) -> Params:
        """Every parameter drawn at random (in space order), then the blacklist applied."""
        return self._apply_blacklist(
            {n: random_value(d, n, self.rng) for n, d in self.space.items()}
        )

    # ------------------------------------------------------------------ models

    def _kernel_risk(self, d: np.ndarray) -> np.ndarray:
        """Crash fraction of the finished trials weighted by a Gaussian kernel of their
        distances ``d`` (last axis: one entry per finished trial), shrunk towards 0 by a
        prior weight of 0.5."""
        w = np.exp(-((d / 0.15) ** 2))
        return np.asarray((w @ self._crashed) / (w.sum(axis=-1) + 0.5))

    @functools.cached_property
    def _crashed(self) -> np.ndarray:
        """1.0 for each crashed finished trial, else 0.0 (rows of :attr:`_points`)."""
        return np.array([r.outcome is Outcome.CRASH for r in self.recs], dtype=float)

    def _screening_risks(self, cands: Sequence[Params]) -> np.ndarray:
        """Risk of each candidate: the kernel crash risk, or (``screening_model=
        "classifier"``) a scikit-learn classifier's probability that the trial is wasted
        (crash, infeasible or pruned), falling back to the kernel while the history has
        only one class."""
        model = self._waste_classifier() if self.cfg.screening_model == "classifier" else None
        if model is None:
            if not self.cfg.screening or not len(self._points):
                return np.zeros(len(cands))
            # Kernel-weighted crash fraction among past trials near each candidate, from one
            # distance matrix (each row's risk is exactly the one-candidate computation).
            xs = np.array([unit_vector(c, self.space) for c in cands])
            d = distance_matrix(xs, self._points, self._mask)
            return np.array([float(self._kernel_risk(row)) for row in d])
        x = np.array([unit_vector(c, self.space) for c in cands])
        proba = model.predict_proba(np.nan_to_num(x, nan=-1.0))
        return np.asarray(proba[:, list(model.classes_).index(1)], dtype=float)

    def _waste_classifier(self) -> Any:
        if self._classifier_fitted:
            return self._classifier
        self._classifier_fitted = True
        # Transient failures say nothing about the configuration: leave them out.
        keep = np.array([r.outcome is not Outcome.TRANSIENT for r in self.recs], dtype=bool)
        labels = np.array([r.outcome is not Outcome.FEASIBLE for r in self.recs], dtype=int)
        labels = labels[keep]
        if len(labels) < 4 or labels.min() == labels.max():
            return None
        from sklearn.ensemble import ExtraTreesClassifier

        model = ExtraTreesClassifier(
            n_estimators=32, min_samples_leaf=1, max_features=None,
            random_state=int(self.rng.integers(2**31 - 1)),
        )
        model.fit(np.nan_to_num(self._points[keep], nan=-1.0), labels)
        self._classifier = model
        return model

    def _category_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {n: {} for n in self._cat}
        for r in self.recs:
            for n in self._cat:
                if n in r.params:
                    key = repr(r.params[n])
                    counts[n][key] = counts[n].get(key, 0) + 1
        return counts

    @functools.cached_property
    def _families(self) -> dict[tuple[str, ...], list[Record]]:
        """Finished feasible and infeasible trials grouped by their categorical values."""
        groups: dict[tuple[str, ...], list[Record]] = {}
        for r in self.recs:
            if r.outcome in (Outcome.FEASIBLE, Outcome.INFEASIBLE):
                groups.setdefault(self._cat_key(r), []).append(r)
        return groups

    def _cat_key(self, r: Record) -> tuple[str, ...]:
        return tuple(value_key(r.params.get(n)) for n in self._cat)

    def _decided_by_categoricals(self, target: Record) -> bool:
        """True when the history shows that no numerical move can repair ``target``: the
        trials that share its categorical values have varied each of its numerical
        parameters (at least two values of each), and every one of them has exactly the
        target's constraint margin (a limit such as a model's accuracy floor, which the
        numbers do not change)."""
        names = [n for n in self._num if n in target.params]
        family = self._families.get(self._cat_key(target), [])
        if not names or len(family) < 2:
            return False
        for n in names:
            if len({value_key(r.params[n]) for r in family if n in r.params}) < 2:
                return False
        m = target.margin
        tol = 1e-9 * max(1.0, abs(m))
        return all(math.isfinite(r.margin) and abs(r.margin - m) <= tol for r in family)

    def _repair_base(self, best: Record | None) -> Record | None:
        """The best-valued infeasible (not crashed) trial that beats the best feasible value
        and lies *just* outside the limits: its violation is at most the median violation of
        the infeasible trials. A trial that numerical moves cannot repair
        (:meth:`_decided_by_categoricals`) is skipped."""
        best_val = best.value if best is not None and best.value is not None else math.inf
        infeasible = [r for r in self.recs if r.outcome is Outcome.INFEASIBLE]
        if not infeasible:
            return None
        typical = float(np.median([r.violation for r in infeasible]))
        cands = [
            r
            for r in infeasible
            if r.value is not None
            and r.value < best_val
            and r.violation <= typical
            and self.repairs.get(r.number, 0) < 3
        ]
        cands.sort(key=lambda r: (r.value, r.violation))
        return next((r for r in cands if not self._decided_by_categoricals(r)), None)


def _mean_shift(groups: Mapping[str, Sequence[float]], old: str, new: str) -> float:
    """Mean of ``groups[new]`` minus mean of ``groups[old]`` (0 when either is empty)."""
    if not groups.get(old) or not groups.get(new):
        return 0.0
    return float(np.mean(groups[new]) - np.mean(groups[old]))
