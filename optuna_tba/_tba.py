"""``TBASampler``: the pure feasible-first annealing phase (kept for ablation)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from optuna.study import Study
from optuna.trial import FrozenTrial

from optuna_tba._annealing import AnnealingSchedule, replay
from optuna_tba._base import Decision, History, _PlanningSampler, validate_float, validate_int
from optuna_tba._moves import MoveConfig, Proposer


class TBASampler(_PlanningSampler):
    """Feasible-first simulated annealing that learns from crashes (no TPE phase).

    This is phase 1 of :class:`~optuna_tba.TBAHybridSampler` run for the whole study. Use it
    to measure what the annealing phase contributes; for real work prefer the hybrid.

    Args:
        seed: Seed for the per-trial random generators. The same seed gives the same trials
            in a sequential run.
        n_startup_trials: Space-filling trials before annealing moves start. Default 4.
        initial_temperature: Starting (and maximum) annealing temperature, in ``(0, 10]``.
            Default 1.0.
        cooling: Temperature factor applied after every move, in ``(0, 1)``. Default 0.9.
        reheat_after: Moves without improvement after which the temperature is doubled and
            the walk restarts from the best feasible trial. Default 6.
        p_struct: Probability that a move changes a categorical parameter (when the space has
            both kinds). Default 0.35.
        p_explore: Probability of an exploration trial (a fresh point) instead of a move.
            Default 0.1.
        p_repair: Probability of a repair move when an infeasible trial beats the best
            feasible value (both phases of the hybrid). Repairs step towards the constraint
            boundary using the signed constraint margins of similar trials. Default 0.4.
        min_repair_success: Before any trial is feasible, repair moves stop once at least
            3 have finished and the posterior mean of their success rate,
            ``Beta(1 + s, 1 + f)``, is below this value (a repair succeeds when its trial
            is less violated than its target). Repairs assume a locally linear constraint
            margin; this stops them where that fails (e.g. a small box-shaped feasible
            region) and leaves them on where it holds (e.g. a weight limit). 0 disables the
            rule. Default 0.25.
        screening: Screen several candidate moves with a kernel estimate of crash risk from
            the history and keep the safest. Default True.
        screening_model: What scores the candidates when ``screening`` is on.
            ``"kernel"`` (default): the kernel-weighted crash fraction of nearby trials.
            ``"classifier"``: a scikit-learn extra-trees classifier of *wasted* trials
            (crashed, infeasible or pruned) trained on the history each trial (needs the
            ``ml`` extra). Measured on the comparison harness it wastes 1–2 points fewer
            trials at the same regret but costs about 15–20 ms of sampler time per trial
            (see the algorithm page), so it is off by default.
        blacklist_threshold: Blamed crashes after which a categorical value or pair is
            banned. Default 3.
        blacklist_cooldown: Trials a ban lasts after its latest blamed crash, doubled for
            each further blamed crash beyond the threshold. Default 8.
        reevaluation: Fraction of trials (at most 0.5) spent re-evaluating near-boundary
            feasible incumbents, for :func:`~optuna_tba.recommend`. These are the only
            duplicates proposed. Default 0 (off).
        constraints_func: Optional, for drop-in use where a ``TPESampler`` was given one:
            ``constraints_func(trial) -> sequence of floats`` (feasible when all ``<= 0``),
            evaluated after each COMPLETE or PRUNED trial and stored as Optuna's own
            samplers store it. Deprecated in Optuna 5 like theirs (a ``FutureWarning``);
            prefer ``trial.set_constraint`` in the objective. Default None.

    Example:
        ```python
        import optuna
        from optuna_tba import TBASampler

        def objective(trial):
            x = trial.suggest_float("x", -5, 5)
            if x > 3:
                raise RuntimeError("crash")
            return x**2

        study = optuna.create_study(sampler=TBASampler(seed=0))
        study.optimize(objective, n_trials=20, catch=(RuntimeError,))
        ```

    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 4,
        initial_temperature: float = 1.0,
        cooling: float = 0.9,
        reheat_after: int = 6,
        p_struct: float = 0.35,
        p_explore: float = 0.1,
        p_repair: float = 0.4,
        min_repair_success: float = 0.25,
        screening: bool = True,
        screening_model: str = "kernel",
        blacklist_threshold: int = 3,
        blacklist_cooldown: int = 8,
        reevaluation: float = 0.0,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
    ) -> None:
        super().__init__(
            seed=seed,
            blacklist_threshold=blacklist_threshold,
            blacklist_cooldown=blacklist_cooldown,
            reevaluation=reevaluation,
            constraints_func=constraints_func,
        )
        validate_int("n_startup_trials", n_startup_trials, 0)
        validate_float("initial_temperature", initial_temperature, 1e-6, 10.0)
        validate_float("cooling", cooling, 1e-6, 0.999999)
        validate_int("reheat_after", reheat_after, 1)
        validate_float("p_struct", p_struct, 0.0, 1.0)
        validate_float("p_explore", p_explore, 0.0, 1.0)
        validate_float("p_repair", p_repair, 0.0, 1.0)
        validate_float("min_repair_success", min_repair_success, 0.0, 1.0)
        self._min_repair_success = float(min_repair_success)
        if not isinstance(screening, bool):
            raise ValueError(f"screening must be a bool, got {screening!r}")
        if screening_model not in ("kernel", "classifier"):
            raise ValueError(
                f"screening_model must be 'kernel' or 'classifier', got {screening_model!r}")
        if screening_model == "classifier":
            try:
                import sklearn  # noqa: F401
            except ImportError:
                raise ValueError(
                    "screening_model='classifier' needs scikit-learn: "
                    "pip install 'optuna-tba[ml]'") from None
        self._schedule = AnnealingSchedule(
            initial_temperature=float(initial_temperature),
            min_temperature=min(0.02, float(initial_temperature)),
            cooling=float(cooling),
            reheat_after=int(reheat_after),
        )
        self._moves = MoveConfig(
            n_startup_trials=int(n_startup_trials),
            p_struct=float(p_struct),
            p_explore=float(p_explore),
            p_repair=float(p_repair),
            screening=screening,
            screening_model=screening_model,
        )

    def _phase1(self, trial: FrozenTrial, hist: History, phase: str = "phase1") -> Decision:
        reeval = self._maybe_reevaluate(hist, trial)
        if reeval is not None:
            reeval.phase = phase
            return reeval
        state = replay(hist.finished, self._schedule)
        blacklist = self._blacklist(hist, trial.number)
        moves = self._moves
        if moves.p_repair > 0.0 and hist.repairs_not_working(self._min_repair_success):
            # Same random draws as with repairs on: only the repair branch is closed.
            moves = dataclasses.replace(moves, p_repair=0.0)
        proposal = Proposer(
            hist.space,
            hist.records,
            blacklist,
            hist.visited,
            moves,
            self._rng(trial.number),
            hist.repairs(),
            hist.unit_cache,
        ).propose(state)
        reason = proposal.reason
        if blacklist:
            reason += f"; avoiding {blacklist.describe()}"
        return Decision(phase, proposal.plan, reason, repair_of=proposal.repair_of)

    def _decide(self, study: Study, trial: FrozenTrial, hist: History) -> Decision:
        return self._phase1(trial, hist)
