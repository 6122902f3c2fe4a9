"""Several workers on one study: SQLite and JournalFileStorage processes, and threads.

Workers run ``study.optimize`` concurrently on a crash-prone objective whose discrete space
(768 configurations) is much larger than the budget. What concurrency allows and what it
does not, as checked here:

* **Recording**: every trial of every worker is stored and finished.
* **Duplicates**: a worker cannot see a configuration that another worker is proposing in
  the same instant (its parameters are not stored yet), so two *overlapping* trials may
  coincide. But a trial created after an identical trial with a deterministic outcome had
  *finished* was proposed with that trial in the history: that is a real duplicate and
  must not happen (unless the sampler declares a re-evaluation or an exhausted space).
* **Sticky handoff**: a trial's phase is decided and stored in ``before_trial``, before
  the trial runs, and a stored phase-2 trial makes every later decision phase 2. So:
  (a) within one worker the phases are ``phase1* phase2*`` (it reads its own writes);
  (b) across workers, a trial created after a phase-2 trial *finished* is phase 2 (the
  phase-2 mark was stored before that trial finished). A trial created while a phase-2
  trial's ``before_trial`` is still running may legitimately still be phase 1: that race
  window is not asserted on, only counted.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from _workers.objectives import DISCRETE_SPACE_SIZE, ToyCrash, crashy_discrete
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from optuna_tba import TRANSIENT_ATTR, TBAHybridSampler

N_WORKERS = 3
TRIALS_PER_WORKER = 8
SAMPLER_KW: dict[str, Any] = {"max_phase1_trials": 9}


def is_deterministic(t: FrozenTrial) -> bool:
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return t.state == TrialState.FAIL and not t.user_attrs.get(TRANSIENT_ATTR)


def declared_duplicate(t: FrozenTrial) -> bool:
    return "tba:reevaluation_of" in t.system_attrs or "duplicate" in str(
        t.user_attrs.get("tba_reason", "")
    )


def check_concurrent_study(
    trials: Sequence[FrozenTrial], n_trials: int, per_worker: int | None
) -> None:
    """Assert the invariants described in the module docstring.

    ``per_worker``: the number of trials each worker (user attr ``worker``) must have
    run, or None not to check it.
    """
    assert n_trials < DISCRETE_SPACE_SIZE
    assert len(trials) == n_trials
    assert all(t.state.is_finished() for t in trials), [t.state for t in trials]
    workers: dict[str, list[FrozenTrial]] = {}
    for t in sorted(trials, key=lambda t: t.number):
        workers.setdefault(str(t.user_attrs["worker"]), []).append(t)
    if per_worker is not None:
        assert [len(v) for v in workers.values()] == [per_worker] * (n_trials // per_worker)

    # Duplicates: only overlapping trials may coincide.
    by_start = sorted(trials, key=lambda t: (t.datetime_start, t.number))
    for a, b in itertools.combinations(by_start, 2):
        if a.params != b.params or not is_deterministic(a) or declared_duplicate(b):
            continue
        assert a.datetime_complete is not None and b.datetime_start is not None
        assert b.datetime_start <= a.datetime_complete, (
            f"trial {b.number} repeats trial {a.number} ({a.params}), which had finished "
            f"before it was created: {b.user_attrs.get('tba_reason')!r}"
        )

    # Sticky handoff, (a) per worker.
    for name, ts in workers.items():
        phases = [t.user_attrs["tba_phase"] for t in ts]
        first2 = phases.index("phase2") if "phase2" in phases else len(phases)
        assert set(phases[first2:]) <= {"phase2"} and set(phases[:first2]) <= {"phase1"}, (
            f"worker {name} went back to phase 1: {phases}"
        )
    # (b) across workers.
    phase2 = [t for t in trials if t.user_attrs["tba_phase"] == "phase2"]
    assert phase2, "the handoff never happened"
    assert any(t.user_attrs["tba_phase"] == "phase1" for t in trials)
    first_done = min(t.datetime_complete for t in phase2 if t.datetime_complete is not None)
    late_phase1 = [
        t.number
        for t in trials
        if t.user_attrs["tba_phase"] == "phase1"
        and t.datetime_start is not None
        and t.datetime_start > first_done
    ]
    assert late_phase1 == [], f"phase-1 trials {late_phase1} started after a phase-2 trial ended"


def _fresh_phase(study: optuna.Study) -> str:
    """The phase a brand-new sampler instance decides for the next trial of ``study``."""
    study.sampler = TBAHybridSampler(seed=99, **SAMPLER_KW)
    trial = study.ask()
    phase = study._storage.get_trial(trial._trial_id).user_attrs["tba_phase"]
    study.tell(trial, state=TrialState.FAIL)
    assert isinstance(phase, str)
    return phase


def _run_workers(start_worker: Callable[..., Any], target: Sequence[str]) -> None:
    procs = [
        start_worker(
            "run_study",
            *target,
            "--study-name",
            "shared",
            "--objective",
            "crashy_discrete",
            "--sampler",
            "hybrid",
            "--seed",
            str(100 + i),
            "--n-trials",
            str(TRIALS_PER_WORKER),
            "--sampler-kwargs",
            json.dumps(SAMPLER_KW),
            "--worker",
            f"p{i}",
        )
        for i in range(N_WORKERS)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]


@pytest.mark.multiprocess
def test_three_processes_on_one_sqlite_study(
    tmp_path: Path, start_worker: Callable[..., Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(storage=url, study_name="shared", direction="maximize")
    _run_workers(start_worker, ["--storage", url])
    study = optuna.load_study(study_name="shared", storage=url)
    check_concurrent_study(study.trials, N_WORKERS * TRIALS_PER_WORKER, TRIALS_PER_WORKER)
    assert _fresh_phase(study) == "phase2"


@pytest.mark.multiprocess
def test_three_processes_on_one_journal_file_study(
    tmp_path: Path, start_worker: Callable[..., Any]
) -> None:
    path = tmp_path / "shared.log"

    def storage() -> optuna.storages.JournalStorage:
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))

    optuna.create_study(storage=storage(), study_name="shared", direction="maximize")
    _run_workers(start_worker, ["--journal", str(path)])
    study = optuna.load_study(study_name="shared", storage=storage())
    check_concurrent_study(study.trials, N_WORKERS * TRIALS_PER_WORKER, TRIALS_PER_WORKER)
    assert _fresh_phase(study) == "phase2"


def test_threads_share_one_sampler() -> None:
    """``n_jobs=3``: one sampler instance used by three threads (Optuna reseeds it)."""
    study = optuna.create_study(
        direction="maximize", sampler=TBAHybridSampler(seed=0, **SAMPLER_KW)
    )

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", threading.get_ident())
        return crashy_discrete(trial)

    n_trials = N_WORKERS * TRIALS_PER_WORKER
    study.optimize(objective, n_trials=n_trials, n_jobs=N_WORKERS, catch=(ToyCrash,))
    # Threads do not get equal shares of the trials: no per-worker count is asserted.
    check_concurrent_study(study.trials, n_trials, per_worker=None)
