"""OptunaHub entry for ``TBAHybridSampler``: a thin re-export of the ``optuna_tba`` package.

The sampler's code lives in ``optuna_tba`` (declared in ``requirements.txt``); this
module only makes it loadable with ``optunahub.load_module("samplers/tba_hybrid")``.
"""

from __future__ import annotations

try:
    from optuna_tba import TBAHybridSampler, TBASampler
except ImportError as exc:  # pragma: no cover - exercised only without the dependency
    raise ImportError(
        "samplers/tba_hybrid needs the optuna-tba package: pip install -r requirements.txt"
    ) from exc

__all__ = ["TBAHybridSampler", "TBASampler"]
