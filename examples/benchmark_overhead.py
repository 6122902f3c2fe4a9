"""Sampler overhead per trial: TBAHybridSampler against plain TPESampler, side by side.

Runs the same crash-prone synthetic problem (``crashy_branin``) for N trials with each
sampler, interleaved (TPE, hybrid, TPE, hybrid, ...), timing only the sampler's own calls
(objective time excluded), and prints the median over repeats of the mean sampler time per
trial, and the ratio.

    python examples/benchmark_overhead.py --trials 100 1000 --repeats 3

``--storage sqlite`` runs every study on a fresh SQLite file (Optuna's RDB storage) instead
of in memory: then the time also covers the storage reads and writes each sampler makes
(the hybrid writes its phase, plan and reason as trial attributes; each write is one
database transaction).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import optuna

from deploybench.compare import TimingSampler
from deploybench.problems import get_problem
from optuna_tba import TBAHybridSampler


def run_once(kind: str, n_trials: int, seed: int, storage: str = "memory") -> float:
    problem = get_problem("crashy_branin")
    inner: optuna.samplers.BaseSampler
    if kind == "tpe":
        inner = optuna.samplers.TPESampler(seed=seed)
    else:
        inner = TBAHybridSampler(seed=seed, expected_n_trials=n_trials)
    sampler = TimingSampler(inner)
    with tempfile.TemporaryDirectory() as tmp:
        rdb = None
        if storage == "sqlite":
            rdb = optuna.storages.RDBStorage(f"sqlite:///{Path(tmp) / 'study.db'}")
        study = optuna.create_study(direction=problem.direction, sampler=sampler, storage=rdb)
        study.optimize(problem, n_trials=n_trials, catch=(Exception,))
        if rdb is not None:
            rdb.remove_session()
            rdb.engine.dispose()
    return sampler.seconds / n_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--storage", choices=["memory", "sqlite"], default="memory",
                        help="where the studies live (default: in memory)")
    args = parser.parse_args()
    if args.repeats < 1 or min(args.trials) < 1:
        parser.error("--trials and --repeats must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"{'trials':>7} {'TPE ms/trial':>13} {'hybrid ms/trial':>16} {'ratio':>6}")
    for n in args.trials:
        tpe, hyb = [], []
        start = time.perf_counter()
        for r in range(args.repeats):
            tpe.append(run_once("tpe", n, r, args.storage))
            hyb.append(run_once("hybrid", n, r, args.storage))
        t, h = statistics.median(tpe) * 1e3, statistics.median(hyb) * 1e3
        print(
            f"{n:>7} {t:>13.2f} {h:>16.2f} {h / t:>6.2f}   "
            f"(medians of {args.repeats}; {time.perf_counter() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()
