"""Every script in ``examples/`` runs end to end with a small budget (subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PG_ENV = "TBA_TEST_POSTGRES_URL"


def _run(script: str, *args: str, timeout: float = 600, cwd: Path | None = None) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{script} exited with {result.returncode}\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _count(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return int(match.group(1))


def test_every_example_is_covered() -> None:
    covered = {
        "sampler_quickstart.py", "dashboard.py", "multi_worker_journal.py",
        "multi_worker_postgres.py", "replay_compare.py", "deploy_live.py",
    }
    mine = {p.name for p in EXAMPLES.glob("*.py") if p.name in covered}
    assert mine == covered, f"missing examples: {covered - mine}"


def test_sampler_quickstart() -> None:
    pytest.importorskip("optuna_tba")
    out = _run("sampler_quickstart.py", "--n-trials", "30", "--seed", "3")
    assert _count(r"trials: (\d+)", out) == 30
    assert "best feasible trial #" in out
    assert "sampler phases:" in out


def test_sampler_quickstart_objective_crashes() -> None:
    # the example stands for a crash-prone job: its objective must really crash
    # (whether a given 30-trial run meets a crash depends on the sampler and seed)
    sys.path.insert(0, str(EXAMPLES))
    try:
        import sampler_quickstart as quick
    finally:
        sys.path.remove(str(EXAMPLES))
    fp16_tiny = {"model": "tiny", "precision": "fp16", "batch": 1, "threads": 1}
    with pytest.raises(quick.DeploymentCrash, match="no fp16 kernel"):
        quick.objective(optuna.trial.FixedTrial(fp16_tiny))
    huge = {"model": "large", "precision": "fp32", "batch": 32, "threads": 1}
    with pytest.raises(quick.DeploymentCrash, match="out of memory"):
        quick.objective(optuna.trial.FixedTrial(huge))
    ok = {"model": "base", "precision": "fp32", "batch": 1, "threads": 1}
    assert quick.objective(optuna.trial.FixedTrial(ok)) == pytest.approx(0.81)


def test_sampler_quickstart_rejects_bad_budget() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "sampler_quickstart.py"), "--n-trials", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "--n-trials must be >= 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_dashboard_example_writes_sqlite(tmp_path: Path) -> None:
    pytest.importorskip("optuna_tba")
    db = tmp_path / "demo.db"
    out = _run("dashboard.py", "--n-trials", "15", "--db", str(db))
    assert f"optuna-dashboard sqlite:///{db}" in out
    study = optuna.load_study(study_name="tba-dashboard-demo", storage=f"sqlite:///{db}")
    assert len(study.trials) == 15
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert completed
    # both the Optuna 5 constraints and the legacy list the dashboard reads
    assert all(len(t.constraints) >= 2 for t in completed)
    assert all(len(t.system_attrs["constraints"]) == 2 for t in completed)


@pytest.mark.multiprocess
def test_multi_worker_journal(tmp_path: Path) -> None:
    pytest.importorskip("optuna_tba")
    journal = tmp_path / "study.log"
    out = _run("multi_worker_journal.py", "--workers", "2", "--trials-per-worker", "6",
               "--journal", str(journal))
    assert _count(r"trials: (\d+)", out) == 12
    backend = JournalFileBackend(str(journal))
    storage = optuna.storages.JournalStorage(backend)
    study = optuna.load_study(study_name="multi-worker-journal", storage=storage)
    assert len(study.trials) == 12
    assert all(t.state.is_finished() for t in study.trials)


@pytest.mark.postgres
@pytest.mark.multiprocess
def test_multi_worker_postgres() -> None:
    pytest.importorskip("optuna_tba")
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"set {PG_ENV} to a PostgreSQL URL to run this example")
    name = f"example-{uuid.uuid4().hex}"
    try:
        out = _run("multi_worker_postgres.py", "--storage", url, "--study-name", name,
                   "--workers", "2", "--budget", "10")
        finished = optuna.load_study(study_name=name, storage=url).trials
        assert 10 <= len(finished) <= 11  # MaxTrialsCallback: one overshoot per extra worker
        assert f"study: {name}" in out
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_replay_compare(tmp_path: Path) -> None:
    pytest.importorskip("optuna_tba")
    out = _run("replay_compare.py", "--seeds", "2", "--budget", "8", "--out", str(tmp_path),
               "--samplers", "random,tba_hybrid")
    assert re.search(r"problem: \S+  runs: 4 new, 0 resumed", out), out
    assert "median regret" in out
    for name in ("runs.jsonl", "summary.md", "summary.json"):
        assert (tmp_path / name).is_file(), f"the comparison should write {name}"
    # rerunning resumes instead of recomputing
    again = _run("replay_compare.py", "--seeds", "2", "--budget", "8", "--out", str(tmp_path),
                 "--samplers", "random,tba_hybrid")
    assert "runs: 0 new, 4 resumed" in again


@pytest.mark.torch
@pytest.mark.slow
def test_deploy_live(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    out = _run("deploy_live.py", "--budget", "2", "--passes", "5", "--models", "resnet18",
               "--storage", f"sqlite:///{tmp_path / 'live.db'}", cwd=tmp_path, timeout=900)
    assert "trials: 2" in out


@pytest.mark.torch
@pytest.mark.slow
def test_gpu_check_script_on_a_cpu_machine(tmp_path: Path) -> None:
    """The GPU check's plumbing: every step runs and leaves its file, even without CUDA."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    import torch

    if torch.cuda.is_available():
        pytest.skip("on a GPU machine run examples/gpu_check.sh itself")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable, EAGER_S="5", COMPILED_S="120",
               OPTIMIZE_S="300", BUDGET="2", PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    result = subprocess.run(["bash", str(EXAMPLES / "gpu_check.sh"), str(out)], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "cuda available False" in (out / "env.txt").read_text()
    rows = [line for line in (out / "compiled.recording.jsonl").read_text().splitlines()
            if '"kind": "row"' in line]
    assert len(rows) == 4 and all('"crash_kind": "unsupported"' in r for r in rows)
    log = (out / "optimize.log").read_text()
    assert "no CUDA device is visible" in log and "Traceback" not in log, log[-2000:]
    assert not (out / "figures").exists()
