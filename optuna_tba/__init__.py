"""Crash-aware, feasible-first samplers for Optuna.

* :class:`TBAHybridSampler` — the product: feasible-first annealing, then TPE on a view of
  the study in which crashed trials are infeasible.
* :class:`TBASampler` — the annealing phase alone, for ablation.
* :func:`mark_transient` / :class:`TransientFailure` — declare a failure transient.
* :func:`recommend` — the best configuration that is *reliably* feasible under noise.
"""

from optuna_tba._hybrid import TBAHybridSampler
from optuna_tba._outcomes import TRANSIENT_ATTR, TransientFailure, mark_transient
from optuna_tba._recommend import ConfigEvidence, Recommendation, collect_evidence, recommend
from optuna_tba._tba import TBASampler

__all__ = [
    "TRANSIENT_ATTR",
    "ConfigEvidence",
    "Recommendation",
    "TBAHybridSampler",
    "TBASampler",
    "TransientFailure",
    "collect_evidence",
    "mark_transient",
    "recommend",
]

__version__ = "0.1.0"
