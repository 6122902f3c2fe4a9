"""Held-out sanity check: three problems the sampler was never tuned on.

The comparison harness's problems were used during development (on other seeds, but still).
These three were written afterwards, to look for pathologies, and no default was changed
because of them:

* ``ackley10`` — 10-dimensional continuous Ackley (minimise), crash when ``x0 + x1 > 4``
  (about 10 % of the box), constraint ``sum(x) <= 10``.
* ``cat_heavy`` — six 4-valued categoricals and two floats (maximise); crashes on two value
  pairs and on one single value; a linear constraint on the floats.
* ``int_knap`` — eight integers 0..10 (maximise a weighted sum), a tight weight limit, and a
  crash when two or more integers exceed 7.

For every problem, sampler, budget and seed it runs one in-memory study and prints the
median best feasible value (feasible: COMPLETE with every constraint <= 0; "none" when a
run found nothing feasible) and the mean waste (crashed, infeasible or pruned fraction).

    python examples/heldout_problems.py --samplers tba_hybrid tpe random --budgets 25 50 \
        --seeds 20 --jobs 2
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import optuna

from deploybench.compare import STATUS_FEASIBLE, trial_status


class Crash(Exception):
    """The configuration crashed (the trial becomes FAIL)."""


def ackley10(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(10)])
    if x[0] + x[1] > 4.0:
        raise Crash("x0 + x1 > 4")
    trial.set_constraint("sum", (float(np.sum(x)) - 10.0) / 10.0)
    return float(-20.0 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
                 - np.exp(np.mean(np.cos(2.0 * np.pi * x))) + 20.0 + math.e)


_SCORES = np.random.default_rng(7).uniform(0.0, 1.0, size=(6, 4))


def cat_heavy(trial: optuna.Trial) -> float:
    c = [trial.suggest_categorical(f"c{i}", [0, 1, 2, 3]) for i in range(6)]
    u = trial.suggest_float("u", 0.0, 1.0)
    v = trial.suggest_float("v", 0.0, 1.0)
    if (c[0] == 3 and c[1] == 2) or (c[2] == 0 and c[3] == 1) or c[4] == 3:
        raise Crash("unsupported combination")
    trial.set_constraint("budget", (u + v) / 1.2 - 1.0)
    return float(sum(_SCORES[i, c[i]] for i in range(6)) + 2.0 * u + v - (u - 0.7) ** 2)


_W = np.arange(1, 9)
_V = np.array([3, 5, 2, 7, 4, 6, 1, 8])


def int_knap(trial: optuna.Trial) -> float:
    k = np.array([trial.suggest_int(f"k{i}", 0, 10) for i in range(8)])
    if int(np.sum(k > 7)) >= 2:
        raise Crash("out of memory")
    trial.set_constraint("weight", float(_W @ k) / 60.0 - 1.0)
    return float(_V @ k)


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], str]] = {
    "ackley10": (ackley10, "minimize"),
    "cat_heavy": (cat_heavy, "maximize"),
    "int_knap": (int_knap, "maximize"),
}
SAMPLERS = ("tba_hybrid", "tpe", "random", "gp")


def make_sampler(name: str, seed: int, budget: int) -> optuna.samplers.BaseSampler:
    if name == "tba_hybrid":
        from optuna_tba import TBAHybridSampler

        return TBAHybridSampler(seed=seed, expected_n_trials=budget)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GPSampler(seed=seed)


def run_one(job: tuple[str, str, int, int]) -> tuple[str, str, int, int, float | None, float]:
    problem, sampler, seed, budget = job
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    objective, direction = PROBLEMS[problem]
    study = optuna.create_study(direction=direction,
                                sampler=make_sampler(sampler, seed, budget))
    study.optimize(objective, n_trials=budget, catch=(Crash,))
    best: float | None = None
    wasted = 0
    for t in study.trials:
        if trial_status(t) != STATUS_FEASIBLE or t.value is None:
            wasted += 1
            continue
        v = float(t.value)
        if best is None or (v < best if direction == "minimize" else v > best):
            best = v
    return problem, sampler, seed, budget, best, wasted / budget


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="+", default=["tba_hybrid", "tpe", "random"],
                        choices=SAMPLERS)
    parser.add_argument("--budgets", nargs="+", type=int, default=[25, 50])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1 or min(args.budgets) < 1:
        parser.error("--seeds, --jobs and --budgets must be >= 1")
    jobs = [(p, s, seed, b) for p in PROBLEMS for s in args.samplers
            for b in args.budgets for seed in range(args.seeds)]
    if args.jobs == 1:
        results = [run_one(j) for j in jobs]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_one, jobs, chunksize=4))
    print(f"median best feasible value (mean waste), {args.seeds} seeds")
    print(f"{'problem':10s} {'budget':>6s} " + " ".join(f"{s:>18s}" for s in args.samplers))
    for p, (_, direction) in PROBLEMS.items():
        for b in args.budgets:
            cells = []
            for s in args.samplers:
                rs = [r for r in results if r[0] == p and r[1] == s and r[3] == b]
                worst = math.inf if direction == "minimize" else -math.inf
                bests = [worst if r[4] is None else r[4] for r in rs]
                med = float(np.median(bests))
                text = "none" if math.isinf(med) else f"{med:.3f}"
                cells.append(f"{text} ({np.mean([r[5] for r in rs]):.2f})")
            print(f"{p:10s} {b:6d} " + " ".join(f"{c:>18s}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
