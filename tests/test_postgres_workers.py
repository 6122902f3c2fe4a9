"""Four worker processes on one PostgreSQL study with ``TBAHybridSampler``.

One worker is SIGKILLed while it is inside the objective. What is checked:

* every trial a worker ran is stored, with the state the worker saw;
* no configuration is evaluated twice, except a retry of the killed trial
  (``RetryHeartbeatStaleTrialCallback``), after a failure marked transient, or an
  intentional re-evaluation marked by the sampler;
* the workers agree on the phase. Each sampler decides the phase of a trial from the
  history it reads when the trial starts, and the handoff is sticky: the history only
  grows, so a trial that *starts* after some phase-2 trial has *finished* has seen at
  least the history that trial saw and must be phase 2 as well. Trials that overlap
  in time may legitimately disagree (a trial created earlier can read the history
  later), so the check is on (start, finish) times, not on trial numbers;
* the killed worker's trial stays RUNNING until a heartbeat check by a live worker
  (``optuna.storages.fail_stale_trials`` inside ``study.optimize``) marks it FAIL,
  and the other workers finish the budget.

Needs ``TBA_TEST_POSTGRES_URL``, e.g.
``postgresql+psycopg2://postgres@127.0.0.1:54329/optuna_tba_test``.

The file is also the worker program: ``python test_postgres_workers.py worker ...``.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import FrozenTrial, TrialState

URL_ENV = "TBA_TEST_POSTGRES_URL"
HEARTBEAT_INTERVAL_S = 1
GRACE_PERIOD_S = 3
BUDGET = 48
N_WORKERS = 4
OBJECTIVE_SLEEP_S = 0.1
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
TRANSIENT_ATTR = "transient_failure"  # optuna_tba's marker for transient failures
REEVALUATION_KEY = "tba:reevaluation_of"  # optuna_tba's marker of an intentional re-evaluation
PHASE_ATTR = "tba_phase"
PHASE2_LABEL = "phase2"

MODELS = {"tiny": (0.70, 1.5, 40.0), "small": (0.76, 3.0, 90.0),
          "base": (0.81, 7.0, 200.0), "large": (0.85, 16.0, 420.0)}


class Crash(RuntimeError):
    """The configuration cannot run."""


def _storage(url: str) -> RDBStorage:
    return RDBStorage(
        url,
        heartbeat_interval=HEARTBEAT_INTERVAL_S,
        grace_period=GRACE_PERIOD_S,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
        engine_kwargs={"pool_pre_ping": True},
    )


def _objective_factory(victim_marker: str | None) -> Any:
    def objective(trial: optuna.Trial) -> float:
        model = trial.suggest_categorical("model", list(MODELS))
        precision = trial.suggest_categorical("precision", ["fp32", "fp16", "int8"])
        batch = trial.suggest_int("batch", 1, 32, log=True)
        threads = trial.suggest_int("threads", 1, 8)
        if victim_marker is not None:
            Path(victim_marker).write_text(str(trial.number))
            time.sleep(600)  # killed here by the test
        time.sleep(OBJECTIVE_SLEEP_S)
        accuracy, ms, mb = MODELS[model]
        if precision == "fp16" and model in ("tiny", "small"):
            raise Crash("no fp16 kernel")
        memory = mb * {"fp32": 1.0, "fp16": 0.5, "int8": 0.3}[precision] + 0.12 * mb * batch
        if memory > 1024:
            raise Crash("out of memory")
        latency = ms * {"fp32": 1.0, "fp16": 0.6, "int8": 0.45}[precision] * batch**0.8
        latency = latency / threads**0.6 + 0.5
        trial.set_constraint("latency", latency / 20.0 - 1.0)
        trial.set_constraint("memory", memory / 512.0 - 1.0)
        return accuracy - {"fp32": 0.0, "fp16": 0.002, "int8": 0.015}[precision]

    return objective


def _worker(url: str, study_name: str, seed: int, budget: int, log: str, victim: str) -> None:
    """Worker process body: run trials until ``budget`` trials have finished."""
    from optuna_tba import TBAHybridSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=study_name, storage=_storage(url), sampler=TBAHybridSampler(seed=seed)
    )

    def record(study: optuna.Study, trial: FrozenTrial) -> None:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"number": trial.number, "state": trial.state.name}) + "\n")

    study.optimize(
        _objective_factory(victim or None),
        catch=(Crash,),
        callbacks=[record, MaxTrialsCallback(budget, states=FINISHED)],
    )


def _spawn(url: str, study_name: str, seed: int, budget: int, log: Path,
           victim: Path | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "worker", url, study_name, str(seed), str(budget),
            str(log), str(victim) if victim else ""]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _retried_from(trial: FrozenTrial) -> int | None:
    return RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)


def _param_key(trial: FrozenTrial) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in trial.params.items()))


def _late_phase1(trials: list[FrozenTrial]) -> list[int]:
    """Trials that started in phase 1 after some phase-2 trial had finished."""
    finished_phase2 = [t.datetime_complete for t in trials if _is_phase2(t) and t.datetime_complete]
    if not finished_phase2:
        return []
    first_phase2_finish = min(finished_phase2)
    return [
        t.number for t in trials
        if not _is_phase2(t) and t.datetime_start is not None
        and t.datetime_start > first_phase2_finish
    ]


def _duplicate_pairs(
    trials: list[FrozenTrial], killed_number: int | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Unexplained pairs of COMPLETE/FAIL trials with equal parameters: (sequential, concurrent).

    Explained: a retry of a stale trial, an intentional re-evaluation, a transient failure,
    the killed trial. Sequential: one had finished before the other started.
    """
    groups: dict[tuple[tuple[str, str], ...], list[FrozenTrial]] = defaultdict(list)
    for t in trials:
        if t.state in (TrialState.COMPLETE, TrialState.FAIL):
            groups[_param_key(t)].append(t)
    sequential: list[tuple[int, int]] = []
    concurrent: list[tuple[int, int]] = []
    for group in groups.values():
        unexplained = [
            t for t in group
            if _retried_from(t) is None
            and REEVALUATION_KEY not in t.system_attrs
            and not t.user_attrs.get(TRANSIENT_ATTR)
            and t.number != killed_number
        ]
        for i, a in enumerate(unexplained):
            for b in unexplained[i + 1:]:
                assert a.datetime_start and b.datetime_start
                first, second = (a, b) if a.datetime_start <= b.datetime_start else (b, a)
                assert first.datetime_complete is not None and second.datetime_start is not None
                pair = (first.number, second.number)
                if first.datetime_complete <= second.datetime_start:
                    sequential.append(pair)
                else:
                    concurrent.append(pair)
    return sequential, concurrent


def _is_phase2(trial: FrozenTrial) -> bool:
    return str(trial.user_attrs.get(PHASE_ATTR)) == PHASE2_LABEL


@pytest.fixture()
def pg_url() -> str:
    url = os.environ.get(URL_ENV)
    if not url:
        pytest.skip(f"set {URL_ENV} to a PostgreSQL URL to run the multi-worker test")
    return url


@pytest.mark.postgres
@pytest.mark.multiprocess
@pytest.mark.slow
def test_four_workers_one_killed(pg_url: str, tmp_path: Path) -> None:
    pytest.importorskip("optuna_tba")
    study_name = f"pg-workers-{uuid.uuid4().hex}"
    optuna.create_study(study_name=study_name, storage=_storage(pg_url), direction="maximize")
    try:
        _run_and_check(pg_url, study_name, tmp_path)
    finally:
        optuna.delete_study(study_name=study_name, storage=pg_url)


def _run_and_check(url: str, study_name: str, tmp_path: Path) -> None:
    marker = tmp_path / "victim.trial"
    logs = [tmp_path / f"worker{i}.jsonl" for i in range(N_WORKERS)]
    victim = _spawn(url, study_name, 0, BUDGET, logs[0], victim=marker)
    survivors = [_spawn(url, study_name, i, BUDGET, logs[i]) for i in range(1, N_WORKERS)]

    deadline = time.monotonic() + 120
    while not marker.exists():
        assert victim.poll() is None, victim.stderr.read().decode() if victim.stderr else ""
        assert time.monotonic() < deadline, "the victim worker never entered the objective"
        time.sleep(0.05)
    killed_number = int(marker.read_text())
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    killed_at = time.monotonic()

    for proc in survivors:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-3000:]

    storage = _storage(url)
    study = optuna.load_study(study_name=study_name, storage=storage)
    killed = next(t for t in study.get_trials(deepcopy=False) if t.number == killed_number)
    swept_by = "survivors" if killed.state == TrialState.FAIL else "replacement worker"
    if killed.state == TrialState.RUNNING:
        # The survivors finished before the grace period ran out. A replacement worker,
        # as a supervisor would start, sweeps the stale trial when it starts its trial.
        time.sleep(max(0.0, GRACE_PERIOD_S + HEARTBEAT_INTERVAL_S - (time.monotonic() - killed_at)))
        extra = tmp_path / "replacement.jsonl"
        logs.append(extra)
        replacement = _spawn(url, study_name, N_WORKERS, BUDGET + 1, extra)
        _, err = replacement.communicate(timeout=600)
        assert replacement.returncode == 0, err.decode()[-3000:]

    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}

    # The killed trial was marked FAIL by the heartbeat check and retried once.
    assert by_number[killed_number].state == TrialState.FAIL
    retries = [t for t in trials if _retried_from(t) == killed_number]
    assert len(retries) == 1
    assert retries[0].params == by_number[killed_number].params

    # Every trial a live worker ran is stored with the state it saw; nothing is left over.
    seen: dict[int, str] = {}
    for log in logs:
        if log.exists():
            for line in log.read_text().splitlines():
                row = json.loads(line)
                assert row["number"] not in seen, "two workers ran the same trial"
                seen[row["number"]] = row["state"]
    assert seen, "no worker recorded a trial"
    for number, state in seen.items():
        assert by_number[number].state.name == state
    assert set(seen) | {killed_number} == set(by_number)
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    n_finished = sum(t.state in FINISHED for t in trials)
    # MaxTrialsCallback stops each worker after its current trial: small overshoot allowed.
    assert BUDGET <= n_finished <= BUDGET + N_WORKERS

    # Phases: every trial has one; one sticky handoff as defined in the module docstring.
    assert all(PHASE_ATTR in t.user_attrs for t in trials)
    phase2 = [t for t in trials if _is_phase2(t)]
    assert phase2, f"no phase-2 trial in {len(trials)} trials"
    late_phase1 = _late_phase1(trials)
    assert not late_phase1, f"trials {late_phase1} started in phase 1 after the handoff"

    # No deterministic duplicate: equal parameters only for a retry of the killed trial, after
    # a transient failure, or for an intentional re-evaluation. Pairs are split into
    # sequential ones (one had finished before the other started: the second sampler read
    # it as a finished trial) and concurrent ones (both in flight: the sampler must see the
    # other trial's in-flight parameters), so that a failure says which guarantee broke.
    sequential, concurrent = _duplicate_pairs(trials, killed_number)
    assert not sequential, f"a finished configuration was proposed again: trials {sequential}"
    assert not concurrent, f"an in-flight configuration was proposed again: trials {concurrent}"

    print(f"{len(trials)} trials, killed trial {killed_number} swept by the {swept_by}, "
          f"{len(phase2)} phase-2 trials, {n_finished} finished")


# --- the invariant checks themselves (no server needed) --------------------------------------

def _trial(number: int, start: float, end: float, phase: str, x: int,
           system_attrs: dict[str, Any] | None = None) -> FrozenTrial:
    t0 = datetime.datetime(2026, 1, 1)
    return FrozenTrial(
        number=number, trial_id=number, state=TrialState.COMPLETE, value=float(x),
        values=None,
        datetime_start=t0 + datetime.timedelta(seconds=start),
        datetime_complete=t0 + datetime.timedelta(seconds=end),
        params={"x": x}, distributions={"x": optuna.distributions.IntDistribution(0, 100)},
        user_attrs={PHASE_ATTR: phase}, system_attrs=system_attrs or {},
        intermediate_values={},
    )


def test_phase_check_allows_overlap_but_not_a_late_phase1_start() -> None:
    # trial 2 read the history before trial 1 finished: allowed although numbered later
    ok = [_trial(0, 0, 1, "phase1", 0), _trial(1, 1, 3, "phase2", 1),
          _trial(2, 2, 4, "phase1", 2), _trial(3, 3.5, 5, "phase2", 3)]
    assert _late_phase1(ok) == []
    bad = [*ok, _trial(4, 5.5, 6, "phase1", 4)]  # started after trial 1 finished
    assert _late_phase1(bad) == [4]


def test_duplicate_check_splits_sequential_and_concurrent() -> None:
    trials = [_trial(0, 0, 1, "phase1", 7), _trial(1, 2, 3, "phase1", 7),   # sequential
              _trial(2, 4, 6, "phase2", 9), _trial(3, 5, 7, "phase2", 9),   # concurrent
              _trial(4, 8, 9, "phase2", 11),
              _trial(5, 10, 11, "phase2", 11, {REEVALUATION_KEY: 4})]       # re-evaluation
    assert _duplicate_pairs(trials, killed_number=None) == ([(0, 1)], [(2, 3)])
    assert _duplicate_pairs(trials, killed_number=1) == ([], [(2, 3)])


if __name__ == "__main__" and len(sys.argv) == 8 and sys.argv[1] == "worker":
    _url, _name, _seed, _budget, _log, _victim = sys.argv[2:]
    _worker(_url, _name, int(_seed), int(_budget), _log, _victim)
