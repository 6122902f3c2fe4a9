"""Several worker processes optimising one study stored in a journal file.

No database server is needed: every worker appends to the same
``JournalFileStorage`` file (file locks keep it consistent). Each worker builds its
own ``TBAHybridSampler``; the sampler reads its state from the shared trial
history, so all workers agree on the phase.

Caveat: a worker that is hard-killed (SIGKILL, power loss) leaves its trial RUNNING
forever, because journal storage has no heartbeat. Use PostgreSQL with a heartbeat
for production (see ``multi_worker_postgres.py``).

Run::

    python examples/multi_worker_journal.py --workers 3 --trials-per-worker 10
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import tempfile

import optuna
from optuna.storages.journal import JournalFileBackend
from sampler_quickstart import DeploymentCrash, objective  # the same toy objective

from optuna_tba import TBAHybridSampler

STUDY_NAME = "multi-worker-journal"


def open_storage(path: str) -> optuna.storages.JournalStorage:
    """The journal storage every worker opens on the same file."""
    return optuna.storages.JournalStorage(JournalFileBackend(path))


def worker(path: str, seed: int, n_trials: int) -> None:
    """One worker process: load the shared study and run ``n_trials`` trials."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # crashes are expected: keep quiet
    study = optuna.load_study(
        study_name=STUDY_NAME, storage=open_storage(path), sampler=TBAHybridSampler(seed=seed)
    )
    study.optimize(objective, n_trials=n_trials, catch=(DeploymentCrash,))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=3, help="worker processes (default 3)")
    parser.add_argument("--trials-per-worker", type=int, default=10, help="default 10")
    parser.add_argument("--journal", help="journal file (default: a new temporary file)")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.trials_per_worker < 1:
        parser.error("--workers and --trials-per-worker must be >= 1")

    path = args.journal or os.path.join(tempfile.mkdtemp(prefix="tba-journal-"), "study.log")
    optuna.create_study(
        study_name=STUDY_NAME, storage=open_storage(path), direction="maximize", load_if_exists=True
    )
    # Each worker gets its own seed: identical seeds would make workers propose alike.
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=worker, args=(path, seed, args.trials_per_worker))
        for seed in range(args.workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        print(f"{len(failed)} worker(s) exited with an error: {failed}")
        return 1

    study = optuna.load_study(study_name=STUDY_NAME, storage=open_storage(path))
    states = collections.Counter(t.state.name for t in study.trials)
    phases = collections.Counter(str(t.user_attrs.get("tba_phase")) for t in study.trials)
    print(f"journal: {path}")
    print(f"trials: {len(study.trials)}  states: {dict(states)}  phases: {dict(phases)}")
    try:
        print(f"best feasible: {study.best_value:.4f} {study.best_params}")
    except ValueError:
        print("no feasible configuration found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
