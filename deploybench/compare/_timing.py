"""A sampler proxy that measures the wrapped sampler's own wall time."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState


class TimingSampler(BaseSampler):
    """Delegate every sampler hook to ``inner`` and accumulate its wall time.

    Objective time is excluded: only the time spent inside the inner sampler's
    ``infer_relative_search_space``, ``sample_relative``, ``sample_independent``,
    ``before_trial``, ``after_trial`` and ``reseed_rng`` is counted in :attr:`seconds`;
    :attr:`seconds_by_trial` splits the time of the per-trial hooks by trial number.
    """

    def __init__(self, inner: BaseSampler) -> None:
        if not isinstance(inner, BaseSampler):
            raise TypeError(f"inner must be an optuna BaseSampler, got {type(inner).__name__}")
        self.inner = inner
        self.seconds = 0.0
        self.seconds_by_trial: dict[int, float] = defaultdict(float)

    def _timed(self, fn: Any, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            elapsed = time.perf_counter() - start
            self.seconds += elapsed
            trial = args[1] if len(args) > 1 else None
            if isinstance(trial, FrozenTrial):
                self.seconds_by_trial[trial.number] += elapsed

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._timed(self.inner.infer_relative_search_space, study, trial)  # type: ignore[no-any-return]

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._timed(self.inner.sample_relative, study, trial, search_space)  # type: ignore[no-any-return]

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._timed(
            self.inner.sample_independent, study, trial, param_name, param_distribution
        )

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._timed(self.inner.before_trial, study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._timed(self.inner.after_trial, study, trial, state, values)

    def reseed_rng(self) -> None:
        self._timed(self.inner.reseed_rng)
