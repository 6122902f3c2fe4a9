"""Several worker processes on one PostgreSQL study: the production recipe.

* ``RDBStorage`` with a heartbeat: a worker that dies mid-trial stops sending
  heartbeats, and the next worker to start a trial after ``grace_period`` seconds
  marks the stale trial FAIL (``optuna.storages.fail_stale_trials``).
* ``RetryHeartbeatStaleTrialCallback`` re-enqueues such a trial once, with the same
  parameters (a dead worker says nothing about the configuration).
* ``MaxTrialsCallback`` gives the study one shared budget, whichever worker runs it.

The storage URL comes from ``--storage`` or the ``TBA_TEST_POSTGRES_URL`` variable, e.g.
``postgresql+psycopg2://user@127.0.0.1:5432/dbname``. On other machines start the
same command with ``--workers 1 --study-name <the same name>``.

Run::

    python examples/multi_worker_postgres.py --storage postgresql+psycopg2://... --workers 4
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import uuid

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState
from sampler_quickstart import DeploymentCrash, objective  # the same toy objective

from optuna_tba import TBAHybridSampler

HEARTBEAT_INTERVAL_S = 10
GRACE_PERIOD_S = 30
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


def open_storage(url: str) -> RDBStorage:
    """An RDB storage with a heartbeat, so trials of dead workers become FAIL."""
    return RDBStorage(
        url,
        heartbeat_interval=HEARTBEAT_INTERVAL_S,
        grace_period=GRACE_PERIOD_S,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        engine_kwargs={"pool_pre_ping": True},
    )


def worker(url: str, study_name: str, seed: int, budget: int) -> None:
    """One worker: run trials until the study holds ``budget`` finished trials."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # crashes are expected: keep quiet
    study = optuna.load_study(
        study_name=study_name, storage=open_storage(url), sampler=TBAHybridSampler(seed=seed)
    )
    study.optimize(
        objective,
        catch=(DeploymentCrash,),
        callbacks=[MaxTrialsCallback(budget, states=FINISHED)],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", default=os.environ.get("TBA_TEST_POSTGRES_URL"),
                        help="database URL (default: $TBA_TEST_POSTGRES_URL)")
    parser.add_argument("--study-name", default=None, help="default: a new unique name")
    parser.add_argument("--workers", type=int, default=4, help="worker processes (default 4)")
    parser.add_argument("--budget", type=int, default=40, help="total finished trials (default 40)")
    args = parser.parse_args(argv)
    if not args.storage:
        parser.error("give --storage URL or set TBA_TEST_POSTGRES_URL")
    if args.workers < 1 or args.budget < 1:
        parser.error("--workers and --budget must be >= 1")

    study_name = args.study_name or f"multi-worker-{uuid.uuid4().hex[:8]}"
    optuna.create_study(study_name=study_name, storage=open_storage(args.storage),
                        direction="maximize", load_if_exists=True)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=worker, args=(args.storage, study_name, seed, args.budget))
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

    study = optuna.load_study(study_name=study_name, storage=args.storage)
    states = collections.Counter(t.state.name for t in study.trials)
    phases = collections.Counter(str(t.user_attrs.get("tba_phase")) for t in study.trials)
    print(f"study: {study_name}")
    print(f"trials: {len(study.trials)}  states: {dict(states)}  phases: {dict(phases)}")
    try:
        print(f"best feasible: {study.best_value:.4f} {study.best_params}")
    except ValueError:
        print("no feasible configuration found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
