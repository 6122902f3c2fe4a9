"""One search-space definition, two ways to fill it: from an Optuna trial or uniformly.

Each synthetic problem writes its (possibly conditional, define-by-run) space once against
the :class:`SpaceSampler` protocol. :class:`TrialSpace` forwards to ``trial.suggest_*``;
:class:`UniformSpace` draws the same parameters the way Optuna's ``RandomSampler`` does
(uniform, log-uniform for ``log=True``, integers rounded from a half-step widened range), so
Monte-Carlo statistics "under uniform sampling" mean "under the random sampler".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import optuna


class SpaceSampler(Protocol):
    """What a problem's ``space`` method may ask for."""

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int: ...

    def categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


class TrialSpace:
    """Suggest each parameter on an Optuna trial."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self.trial.suggest_float(name, low, high, log=log))

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return int(self.trial.suggest_int(name, low, high, step=step, log=log))

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.trial.suggest_categorical(name, list(choices))


class UniformSpace:
    """Draw each parameter like ``optuna.samplers.RandomSampler`` and record it."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.params: dict[str, Any] = {}

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        if log:
            value = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        else:
            value = self.rng.uniform(low, high)
        value = min(max(float(value), low), high)
        self.params[name] = value
        return value

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        if log:
            raw = math.exp(self.rng.uniform(math.log(low - 0.5), math.log(high + 0.5)))
            value = round(raw)
        else:
            n_steps = (high - low) // step
            value = low + step * int(self.rng.integers(0, n_steps + 1))
        value = int(min(max(value, low), high))
        self.params[name] = value
        return value

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = choices[int(self.rng.integers(0, len(choices)))]
        self.params[name] = value
        return value


class ReplaySpace:
    """Read parameters back from a finished configuration (for ``truth`` and tests)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def _get(self, name: str) -> Any:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"configuration lacks parameter {name!r}") from None

    def float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return float(self._get(name))

    def int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return int(self._get(name))

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._get(name)
