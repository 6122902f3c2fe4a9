"""Stress test: how often do parallel workers evaluate the same configuration twice?

Several threads (``study.optimize(n_jobs=...)``) share one in-memory study of a small
define-by-run space: ``arch`` picks a branch (cnn: kernel x depth, mlp: width, where
width 4 crashes, tf: heads), 13 configurations in all. The objective sleeps ``--sleep``
seconds, so trials overlap; with a budget equal to the space size, every configuration can
be evaluated exactly once. For each repeated configuration the script checks whether one
of the two trials *declared* the repeat (``duplicate`` in its ``tba_reason``: the space
looked exhausted to it, counting the trials in flight) and reports the undeclared ones,
which the sampler promises never to propose. The summary also counts every repeat,
declared or not (trials minus distinct configurations): with a budget equal to the space
size, each one is a configuration left unevaluated.

    python examples/concurrent_duplicates.py --seeds 100 --jobs 4 --sleep 0.001

``--processes`` runs the workers as separate processes on one ``JournalFileStorage`` file
instead (each with its own sampler instance, seeded ``seed * 100 + worker``; the budget is
shared through ``MaxTrialsCallback``), which exercises the cross-process protocol rather
than the in-process lock; process start-up makes it much slower per study.

Timings differ from run to run (thread scheduling), so counts vary; compare versions over
several hundred seeds. ``--show`` prints each undeclared pair with both trials' stored plan
and announced in-flight values.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend

from optuna_tba import TBAHybridSampler

#: Every configuration of :func:`objective` (the space is exhausted after this many).
N_CONFIGS = 13


def objective(trial: optuna.Trial, sleep: float) -> float:
    arch = trial.suggest_categorical("arch", ["cnn", "mlp", "tf"])
    if arch == "cnn":
        kernel = trial.suggest_categorical("kernel", [3, 5])
        depth = trial.suggest_int("depth", 1, 3)
        time.sleep(sleep)
        return float(kernel * depth)
    if arch == "mlp":
        width = trial.suggest_int("width", 1, 4)
        time.sleep(sleep)
        if width == 4:
            raise RuntimeError("out of memory")
        return 10.0 - width
    heads = trial.suggest_categorical("heads", [1, 2, 4])
    time.sleep(sleep)
    return 5.0 / heads


def _declared(t: optuna.trial.FrozenTrial) -> bool:
    return "duplicate" in str(t.user_attrs.get("tba_reason", ""))


def _worker(path: str, seed: int, sleep: float) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.JournalStorage(JournalFileBackend(path))
    study = optuna.load_study(
        study_name="stress",
        storage=storage,
        sampler=TBAHybridSampler(seed=seed, expected_n_trials=N_CONFIGS),
    )
    study.optimize(
        lambda t: objective(t, sleep),
        catch=(RuntimeError,),
        callbacks=[optuna.study.MaxTrialsCallback(N_CONFIGS, states=None)],
    )


def _run_processes(seed: int, jobs: int, sleep: float) -> optuna.Study:
    path = os.path.join(tempfile.mkdtemp(prefix="tba-stress-"), "study.log")
    storage = optuna.storages.JournalStorage(JournalFileBackend(path))
    optuna.create_study(study_name="stress", storage=storage)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_worker, args=(path, seed * 100 + w, sleep)) for w in range(jobs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a worker process exited with {p.exitcode}")
    return optuna.load_study(study_name="stress", storage=storage)


def run(
    seed: int, jobs: int, sleep: float, processes: bool = False
) -> tuple[list[tuple[Any, Any]], int, int]:
    """One study; returns the undeclared repeated pairs (first, repeat), the number of
    trials (processes may start a few more than the budget) and the number of distinct
    configurations evaluated."""
    if processes:
        study = _run_processes(seed, jobs, sleep)
    else:
        study = optuna.create_study(
            sampler=TBAHybridSampler(seed=seed, expected_n_trials=N_CONFIGS)
        )
        study.optimize(
            lambda t: objective(t, sleep), n_trials=N_CONFIGS, n_jobs=jobs, catch=(RuntimeError,)
        )
    first: dict[tuple[tuple[str, Any], ...], optuna.trial.FrozenTrial] = {}
    bad = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        key = tuple(sorted(t.params.items()))
        if key in first and not (_declared(t) or _declared(first[key])):
            bad.append((first[key], t))
        first.setdefault(key, t)
    return bad, len(study.trials), len(first)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="studies to run (default 100)")
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--jobs", type=int, default=4, help="threads per study (default 4)")
    parser.add_argument(
        "--sleep", type=float, default=0.001, help="objective time in seconds (default 0.001)"
    )
    parser.add_argument("--show", action="store_true", help="print every undeclared pair")
    parser.add_argument(
        "--processes", action="store_true", help="worker processes on a journal file"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1 or not args.sleep >= 0:
        parser.error("--seeds and --jobs must be >= 1 and --sleep >= 0")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    undeclared = trials = distinct = 0
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        pairs, n, k = run(seed, args.jobs, args.sleep, args.processes)
        undeclared += len(pairs)
        trials += n
        distinct += k
        for a, b in pairs if args.show else ():
            print(f"seed {seed}: trial {b.number} repeats trial {a.number} {b.params}")
            for t in (a, b):
                attrs = t.system_attrs
                print(
                    f"  #{t.number} plan={attrs.get('tba:plan')} "
                    f"inflight={attrs.get('tba:inflight')} reason={t.user_attrs.get('tba_reason')}"
                )
    workers = "processes" if args.processes else "threads"
    print(
        f"{args.seeds} studies, {trials} trials, {args.jobs} {workers}, objective "
        f"{args.sleep * 1000:g} ms: undeclared repeats {undeclared} "
        f"({100.0 * undeclared / trials:.2f} % of trials); all repeats, declared or not, "
        f"{trials - distinct} ({100.0 * (trials - distinct) / trials:.2f} %)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
