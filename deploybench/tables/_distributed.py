"""Distributed recording through an Optuna storage (PostgreSQL/MySQL RDB or a journal file).

No coordination protocol of our own: every (configuration, repeat) pair is one
trial put in the study's queue with :meth:`optuna.study.Study.enqueue_trial` (the
configuration and repeat index go in its user attributes), and workers on any
machine run :meth:`optuna.study.Study.optimize`, whose ``ask`` atomically pops a
WAITING trial. The measurement is stored in the trial's user attribute ``result``;
a crash of the *configuration* is data (the trial still completes). With an RDB
storage, heartbeats mark the trials of a killed worker FAIL and
:class:`optuna.storages.RetryHeartbeatStaleTrialCallback` puts them back in the queue.

Export turns the study into a table file (first finished repeat wins if a pair was
ever measured twice).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings
from deploybench.tables._format import Table, build_table
from deploybench.tables._recorder import hostname_hash, resolve_profiler, safe_profile, sweep_order
from deploybench.tables._recording import same_settings, utc_now
from deploybench.tables._space import Grid

ATTR_GRID = "deploybench_grid"
ATTR_SETTINGS = "deploybench_settings"
ATTR_PROVENANCE = "deploybench_provenance"
HEARTBEAT_INTERVAL_S = 60
GRACE_PERIOD_S = 300


def open_storage(url: str) -> BaseStorage:
    """An RDB storage for URLs (``postgresql://...``), else a journal file at that path.

    RDB storages get heartbeats so that trials of a killed worker are retried.
    """
    if "://" in url:
        return RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
            grace_period=GRACE_PERIOD_S,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=2),
        )
    return JournalStorage(JournalFileBackend(url))


def _json_roundtrip(obj: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(json.dumps(obj)))


def prepare_study(
    storage: BaseStorage | str,
    study_name: str,
    grid: Grid,
    settings: ProfileSettings,
    repeats: int,
    provenance: Mapping[str, Any],
    first: Callable[[DeployConfig], bool] | None = None,
) -> int:
    """Create (or load) the study and enqueue every missing (config, repeat) pair.

    Trials are enqueued (and so run) in :func:`sweep_order`; ``first`` moves the
    matching configurations to the front.

    Pairs already WAITING, RUNNING or COMPLETE are not enqueued again, so calling
    this twice is harmless (run it from one place, not concurrently from several).

    Returns:
        The number of trials enqueued.

    Raises:
        ValueError: The study exists with a different grid or settings.
    """
    storage = open_storage(storage) if isinstance(storage, str) else storage
    study = optuna.create_study(storage=storage, study_name=study_name, load_if_exists=True)
    want = {ATTR_GRID: grid.to_dict(), ATTR_SETTINGS: settings.to_dict()}
    for key, value in want.items():
        have = study.user_attrs.get(key)
        if have is None:
            study.set_user_attr(key, value)
        elif not (same_settings(have, value) if key == ATTR_SETTINGS
                  else have == _json_roundtrip(value)):
            raise ValueError(
                f"study {study_name!r} was prepared with a different "
                f"{key.removeprefix('deploybench_')}; use the same options or another study name"
            )
    if ATTR_PROVENANCE not in study.user_attrs:
        study.set_user_attr(ATTR_PROVENANCE, _json_roundtrip(provenance))
    live = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE)
    done = {
        (t.user_attrs["config_key"], int(t.user_attrs["repeat"]))
        for t in study.get_trials(deepcopy=False, states=live)
        if "config_key" in t.user_attrs
    }
    todo = sweep_order(grid.configs(), repeats, done, first=first)
    for config, repeat in todo:
        study.enqueue_trial(
            {},
            user_attrs={"config": config.to_dict(), "config_key": config.key(), "repeat": repeat},
        )
    return len(todo)


def _n_waiting(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def run_worker(storage_url: str, study_name: str, profiler: str, progress: bool = False) -> int:
    """Measure queued trials until the queue is empty; returns the number measured.

    Args:
        storage_url: RDB URL or journal file path (see :func:`open_storage`).
        study_name: A study prepared by :func:`prepare_study`.
        profiler: ``module:function`` of the profiler (importable on this machine).
        progress: Show Optuna's progress bar.
    """
    storage = open_storage(storage_url)
    study = optuna.load_study(study_name=study_name, storage=storage,
                              sampler=optuna.samplers.RandomSampler())
    settings_dict = study.user_attrs.get(ATTR_SETTINGS)
    if settings_dict is None:
        raise ValueError(f"study {study_name!r} was not prepared for recording")
    settings = ProfileSettings.from_dict(settings_dict)
    profile_fn = resolve_profiler(profiler)
    host = hostname_hash()
    measured = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal measured
        attrs = trial.user_attrs
        if "config" not in attrs:
            # The queue emptied between our check and ask(): not a measurement.
            trial.set_user_attr("deploybench_idle", True)
            study.stop()
            raise optuna.TrialPruned("no queued configuration left")
        config = DeployConfig.from_dict(attrs["config"])
        result = safe_profile(profile_fn, config, settings)
        trial.set_user_attr("result", result.to_dict())
        trial.set_user_attr("recorded_at", utc_now())
        trial.set_user_attr("host", host)
        measured += 1
        return float(result.wall_s or 0.0)

    def stop_when_drained(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if _n_waiting(study) == 0:
            study.stop()

    if _n_waiting(study) > 0:
        study.optimize(objective, callbacks=[stop_when_drained], show_progress_bar=progress)
    return measured


def run_workers(storage_url: str, study_name: str, profiler: str, n_workers: int) -> int:
    """Run ``n_workers`` local worker processes (spawned) and wait for them.

    Returns:
        The number of workers that exited with a non-zero code.
    """
    if n_workers < 1:
        raise ValueError(f"workers must be >= 1, got {n_workers}")
    if n_workers == 1:
        run_worker(storage_url, study_name, profiler, progress=True)
        return 0
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=run_worker, args=(storage_url, study_name, profiler), daemon=False)
        for _ in range(n_workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return sum(1 for p in procs if p.exitcode != 0)


def export_table(storage: BaseStorage | str, study_name: str) -> Table:
    """Build a table from the COMPLETE measurement trials of a recording study."""
    storage = open_storage(storage) if isinstance(storage, str) else storage
    study = optuna.load_study(study_name=study_name, storage=storage)
    grid_dict = study.user_attrs.get(ATTR_GRID)
    if grid_dict is None:
        raise ValueError(f"study {study_name!r} is not a deploybench recording study")
    trials = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "result" in t.user_attrs
    ]
    trials.sort(key=lambda t: (t.datetime_complete is None, t.datetime_complete, t.number))
    rows = [
        (ProfileResult.from_dict(t.user_attrs["result"]), int(t.user_attrs["repeat"]),
         t.user_attrs.get("recorded_at"))
        for t in trials
    ]
    provenance = dict(study.user_attrs.get(ATTR_PROVENANCE) or {})
    provenance["study_name"] = study_name
    provenance["hosts"] = sorted({str(t.user_attrs.get("host")) for t in trials})
    provenance["rows"] = len(rows)
    stamps = sorted(str(t.user_attrs["recorded_at"]) for t in trials
                    if t.user_attrs.get("recorded_at"))
    provenance["first_row_at"] = stamps[0] if stamps else None
    provenance["last_row_at"] = stamps[-1] if stamps else None
    return build_table(Grid.from_dict(grid_dict), rows,
                       dict(study.user_attrs.get(ATTR_SETTINGS) or {}), provenance)
