"""Load ``TBAHybridSampler`` from OptunaHub and run it on a crash-prone objective."""

from __future__ import annotations

import optuna
import optunahub


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", 1, 10)
    kind = trial.suggest_categorical("kind", ["fast", "exact", "unstable"])
    if kind == "unstable" and x > 0:
        raise RuntimeError("crash")  # recorded as a FAIL trial; the sampler learns from it
    trial.set_constraint("budget", x + y - 8.0)  # <= 0 means feasible
    return (x - 1.0) ** 2 + y + (0.5 if kind == "fast" else 0.0)


if __name__ == "__main__":
    module = optunahub.load_module("samplers/tba_hybrid")
    study = optuna.create_study(sampler=module.TBAHybridSampler(seed=0))
    study.optimize(objective, n_trials=30, catch=(RuntimeError,))
    print(study.best_trial.params, study.best_value)
