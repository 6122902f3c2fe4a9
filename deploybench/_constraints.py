"""Report constraint values on a trial so that every consumer can read them.

Optuna 5 stores ``trial.set_constraint(key, value)`` as the system attribute
``constraints:<key>``. optuna-dashboard 0.21 still reads only the legacy list stored
under the system attribute ``constraints``. We write both; samplers that read
``FrozenTrial.constraints`` then see every constraint twice (once by name, once by
index), which changes no feasibility decision and scales every violation sum by the
same factor.
"""

from __future__ import annotations

from collections.abc import Mapping

import optuna

LEGACY_KEY = "constraints"


def report_constraints(trial: optuna.trial.BaseTrial, values: Mapping[str, float]) -> None:
    """Set each constraint with ``trial.set_constraint`` and as the legacy list.

    Args:
        trial: The running trial (or a ``FixedTrial``, which keeps only the named values).
        values: Constraint name to value; ``value <= 0`` means satisfied. Use relative
            violations (``measured / cap - 1``) so that different units never mix.
    """
    ordered = [(str(k), float(v)) for k, v in values.items()]
    for key, value in ordered:
        trial.set_constraint(key, value)
    if isinstance(trial, optuna.Trial):  # a FixedTrial (a dry run) has no storage
        trial.storage.set_trial_system_attr(
            trial._trial_id, LEGACY_KEY, [v for _, v in ordered]
        )
