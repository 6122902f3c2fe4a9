"""Run a crash-prone study into SQLite and print the optuna-dashboard command.

Constraints are reported with ``deploybench._constraints.report_constraints``,
which writes both Optuna 5's ``trial.set_constraint`` values and the legacy
``constraints`` list that optuna-dashboard 0.21 reads; with ``set_constraint``
alone the dashboard would show every trial as feasible.

Run::

    python examples/dashboard.py --n-trials 40 --db dashboard-demo.db
    optuna-dashboard sqlite:///dashboard-demo.db --host 127.0.0.1
"""

from __future__ import annotations

import argparse
import math
import os

import optuna

from deploybench._constraints import report_constraints
from optuna_tba import TBAHybridSampler


class Crash(RuntimeError):
    """The configuration cannot be evaluated."""


def objective(trial: optuna.Trial) -> float:
    """A small Branin-like problem with a crash region and two linear limits."""
    mode = trial.suggest_categorical("mode", ["A", "B", "C"])
    x1 = trial.suggest_float("x1", 0.0, 15.0)
    x2 = trial.suggest_float("x2", 0.0, 15.0)
    if mode == "C" and x1 > 8.0:
        raise Crash("mode C diverges for x1 > 8")
    shift = {"A": 0.0, "B": 2.0, "C": -2.0}[mode]
    u, v = x1 + shift - 5.0, x2
    branin = (v - 5.1 / (4 * math.pi**2) * u**2 + 5 / math.pi * u - 6) ** 2
    branin += 10 * (1 - 1 / (8 * math.pi)) * math.cos(u) + 10
    # Normalised violations (<= 0 means satisfied).
    violations = {"sum": (x1 + x2 - 16.0) / 15.0, "slope": (2 * x2 - x1 - 10.0) / 15.0}
    report_constraints(trial, violations)
    return branin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40, help="trial budget (default 40)")
    parser.add_argument("--db", default="dashboard-demo.db", help="SQLite file (%(default)s)")
    parser.add_argument("--study-name", default="tba-dashboard-demo", help="default %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    args = parser.parse_args(argv)
    if args.n_trials < 1:
        parser.error("--n-trials must be >= 1")

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # crashes are expected: keep quiet
    url = f"sqlite:///{os.path.abspath(args.db)}"
    study = optuna.create_study(
        study_name=args.study_name,
        storage=url,
        direction="minimize",
        sampler=TBAHybridSampler(seed=args.seed),
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=args.n_trials, catch=(Crash,))
    print(f"{len(study.trials)} trials stored in {args.db}")
    print("View them with:")
    print(f"  optuna-dashboard {url} --host 127.0.0.1 --port 8080")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
