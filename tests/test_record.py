"""``deploybench record``: resumable local recording, crashes as data, distributed recording."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from deploybench.cli import main
from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings
from deploybench.tables import (
    Grid,
    RecordingReplacedError,
    ReplayCrash,
    TableFormatError,
    TableObjective,
    compact,
    export_table,
    load_table,
    open_storage,
    prepare_study,
    read_recording,
    record,
    run_worker,
    run_workers,
    sweep_order,
)
from deploybench.tables import _recorder as recorder_module
from deploybench.tables._fake import SLEEP_ENV, fake_profile
from deploybench.tables._load import QuietPolicy
from deploybench.tables._recorder import parse_priority

ROOT = Path(__file__).resolve().parents[1]
FAKE = "deploybench.tables._fake:fake_profile"
SMALL = ["--models", "resnet18", "mobilenet_v2", "--backends", "onnxruntime",
         "--precisions", "fp32", "--batch-sizes", "1", "2", "4", "--threads", "1"]
SMALL_GRID = Grid(models=("resnet18", "mobilenet_v2"), backends=("onnxruntime",),
                  precisions=("fp32",), batch_sizes=(1, 2, 4), threads=(1,))


def rows_of(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text().splitlines():
        obj = json.loads(line)
        if obj.get("kind") == "row":
            out.append(obj)
    return out


def pair(row: dict[str, object]) -> tuple[str, int]:
    result = row["result"]
    assert isinstance(result, dict)
    return DeployConfig.from_dict(result["config"]).key(), int(row["repeat"])  # type: ignore[call-overload]


def test_sweep_order_is_repeat_major() -> None:
    configs = SMALL_GRID.configs()
    order = sweep_order(configs, 3)
    assert [r for _, r in order] == [0] * 6 + [1] * 6 + [2] * 6
    # The same permutation of the grid within each repeat, deterministic for the seed.
    assert sorted(c.key() for c, _ in order[:6]) == sorted(c.key() for c in configs)
    assert [c for c, _ in order[:6]] == [c for c, _ in order[6:12]]
    assert order == sweep_order(configs, 3)
    assert [c for c, _ in sweep_order(configs, 1, order_seed=None)] == configs
    big = Grid().configs()
    assert [c for c, _ in sweep_order(big, 1)] != big
    done = {(configs[0].key(), 0), (configs[3].key(), 1)}
    rest = sweep_order(configs, 3, done)
    assert len(rest) == 16
    assert not {(c.key(), r) for c, r in rest} & done
    with pytest.raises(ValueError, match="repeats"):
        sweep_order(configs, 0)


def test_priority_moves_matching_configs_first_with_all_their_repeats() -> None:
    configs = SMALL_GRID.configs()
    first = parse_priority(["batch_size=1,2", "model=mobilenet_v2"])
    assert first is not None
    order = sweep_order(configs, 3, first=first)
    assert sorted(order, key=lambda p: (p[0].key(), p[1])) == sorted(
        sweep_order(configs, 3), key=lambda p: (p[0].key(), p[1]))
    head = [(c.model, c.batch_size, r) for c, r in order[:6]]
    assert {m for m, _, _ in head} == {"mobilenet_v2"}
    assert {b for _, b, _ in head} == {1, 2}
    assert [r for *_, r in head] == [0, 0, 1, 1, 2, 2]  # still repeat-major within
    assert not any(first(c) for c, _ in order[6:])
    assert parse_priority([]) is None
    with pytest.raises(ValueError, match="unknown configuration field"):
        parse_priority(["colour=red"])
    with pytest.raises(ValueError, match="FIELD=V1,V2"):
        parse_priority(["model"])


def test_cli_priority_records_the_focus_first(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    argv = ["record", "--out", str(out), "--profiler", FAKE, "--no-progress", "--repeats", "2",
            "--first", "batch_size=4", *SMALL]
    assert main([*argv, "--max-rows", "4"]) == 0
    rows = rows_of(out)
    assert [int(DeployConfig.from_dict(r["result"]["config"]).batch_size)  # type: ignore[index]
            for r in rows] == [4, 4, 4, 4]
    assert sorted(int(r["repeat"]) for r in rows) == [0, 0, 1, 1]  # type: ignore[call-overload]
    assert main(argv) == 0  # the same command (same grid) resumes to completion
    assert len(rows_of(out)) == 12
    sessions = [json.loads(x) for x in out.read_text().splitlines() if '"session"' in x]
    assert [s_.get("first") for s_ in sessions] == [["batch_size=4"], ["batch_size=4"]]


def test_rows_carry_the_load_of_other_processes(tmp_path: Path) -> None:
    def slow(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        time.sleep(0.1)  # /proc/stat counts in 10 ms ticks: give the meter a real interval
        return fake_profile(config, settings)

    contents = record(tmp_path / "r.jsonl", SMALL_GRID, ProfileSettings(passes=5), 1,
                      slow, progress=False, max_rows=2)
    loads = [r.result.provenance.get("other_load_cores") for r in contents.rows]
    table = contents.to_table()
    stored = [rep.other_load_cores for rec in table.records.values() for rep in rec.repeats]
    if Path("/proc/stat").exists():
        assert all(isinstance(v, float) and v >= 0 for v in loads)
        assert sorted(stored) == sorted(loads)  # type: ignore[type-var]
    else:
        assert loads == [None, None] and stored == [None, None]


def test_quiet_policy_waits_for_a_quiet_machine_and_gives_up_after_max_wait() -> None:
    loads = iter([1.5, 1.2, 0.1])
    seen: list[float] = []
    policy = QuietPolicy(0.5, probe_s=1.0, max_wait_s=10.0)
    assert policy.wait(lambda s: next(loads), seen.append)
    assert seen == [1.5, 1.2]
    busy = QuietPolicy(0.5, probe_s=1.0, max_wait_s=3.0)
    calls: list[float] = []
    assert not busy.wait(lambda s: calls.append(s) or 2.0)  # type: ignore[func-returns-value]
    assert calls == [1.0, 1.0, 1.0]
    assert QuietPolicy(0.5).is_quiet(None)  # no /proc/stat: nothing to wait for
    with pytest.raises(ValueError, match="max_other_load"):
        QuietPolicy(float("nan"))


def test_quiet_recording_retakes_loaded_measurements(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # each measurement's meter reads the next load: the first config is measured under
    # load twice, then quietly; the second under load more often than `retries` allows.
    measured = iter([0.9, 0.8, 0.2, 0.9, 0.9, 0.9])

    class FakeMeter:
        def start(self) -> FakeMeter:
            return self

        def other_load_cores(self) -> float:
            return next(measured)

    monkeypatch.setattr(recorder_module, "LoadMeter", FakeMeter)
    calls: list[str] = []

    def counting(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        calls.append(config.key())
        return fake_profile(config, settings)

    policy = QuietPolicy(0.5, retries=2, probe_s=0.01)
    out = tmp_path / "q.jsonl"
    contents = record(out, SMALL_GRID, ProfileSettings(passes=5), 1, counting,
                      progress=False, max_rows=2, quiet=policy, load_probe=lambda s: 0.0)
    assert len(calls) == 6 and len(set(calls[:3])) == 1 and len(set(calls[3:])) == 1
    assert [r.result.provenance["other_load_cores"] for r in contents.rows] == [0.2, 0.9]
    assert len(rows_of(out)) == 2  # discarded attempts are never written
    session = [json.loads(x) for x in out.read_text().splitlines() if '"session"' in x]
    assert session[0]["quiet"]["max_other_load"] == 0.5


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    cmd = [sys.executable, "-m", "deploybench", "record", "--out", str(out), "--profiler", FAKE,
           "--repeats", "2", "--no-progress", *SMALL]
    env = dict(os.environ, **{SLEEP_ENV: "0.4"})
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and len(rows_of(out)) >= 3:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = rows_of(out)
    assert 3 <= len(before) < 12
    # Simulate the process dying mid-write: a torn last line.
    with open(out, "ab") as f:
        f.write(b'{"kind": "row", "repeat": 1, "result": {"conf')
    prefix_text = out.read_text().rsplit("\n", 1)[0]

    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = rows_of(out)
    pairs = [pair(r) for r in after]
    assert len(pairs) == 12
    assert len(set(pairs)) == 12
    assert {p for p in pairs} == {(c.key(), r) for c in SMALL_GRID.configs() for r in (0, 1)}
    # The rows written before the kill are untouched and come first.
    assert out.read_text().startswith(prefix_text)
    assert after[: len(before)] == before
    # Repeat-major order held across the restart.
    repeats = [int(r["repeat"]) for r in after]  # type: ignore[call-overload]
    assert repeats == sorted(repeats)
    contents = read_recording(out)
    assert len(contents.sessions) == 2
    # A third run has nothing left to do and adds no rows.
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and len(rows_of(out)) == 12


def test_torn_header_starts_afresh_and_foreign_recording_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_bytes(b'{"format": "deploybench-rec')
    contents = record(out, SMALL_GRID, ProfileSettings(passes=5), 1, fake_profile,
                      progress=False)
    assert len(contents.rows) == 6 and len(read_recording(out).rows) == 6
    foreign = tmp_path / "f.jsonl"
    foreign.write_text('{"format": "other", "schema_version": 1}\n')
    with pytest.raises(TableFormatError, match="not a deploybench-recording"):
        record(foreign, SMALL_GRID, ProfileSettings(passes=5), 1, fake_profile, progress=False)
    corrupt = tmp_path / "c.jsonl"
    lines = out.read_text().splitlines()
    lines[3] = "garbage"
    corrupt.write_text("\n".join(lines) + "\n")
    with pytest.raises(TableFormatError, match="line 4 is corrupt"):
        read_recording(corrupt)


@pytest.mark.parametrize("how", ["replaced", "deleted"])
def test_a_replaced_recording_file_stops_the_recorder_without_losing_rows(
        tmp_path: Path, how: str) -> None:
    out = tmp_path / "r.jsonl"
    record(out, SMALL_GRID, ProfileSettings(passes=5), 1, fake_profile, progress=False,
           max_rows=2)
    saved = out.read_bytes()
    calls = 0

    def profile_then_replace(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        nonlocal calls
        calls += 1
        if calls == 2:  # what `git stash` does to a tracked recording: a new file, same path
            out.unlink()
            if how == "replaced":
                out.write_bytes(saved)
        return fake_profile(config, settings)

    with pytest.raises(RecordingReplacedError, match=f"was {how}"):
        record(out, SMALL_GRID, ProfileSettings(passes=5), 1, profile_then_replace,
               progress=False)
    if how == "replaced":
        # nothing was appended to the lost file's replacement either: it is as it was put
        assert out.read_bytes() == saved
    # a ValueError, so `deploybench record` reports it in one line (exit status 2);
    # running again continues from the file as it is now
    assert issubclass(RecordingReplacedError, ValueError)
    out.write_bytes(saved)
    contents = record(out, SMALL_GRID, ProfileSettings(passes=5), 1, fake_profile,
                      progress=False)
    assert len(contents.rows) == 6 and len(read_recording(out).rows) == 6


def test_crashing_profiler_is_data_not_abort(tmp_path: Path) -> None:
    calls: list[str] = []

    def flaky(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        calls.append(config.key())
        if config.batch_size == 2:
            raise RuntimeError("driver exploded")
        return fake_profile(config, settings)

    contents = record(tmp_path / "r.jsonl", SMALL_GRID, ProfileSettings(passes=5), 1, flaky,
                      progress=False)
    assert len(calls) == 6 and len(contents.rows) == 6
    crashed = [r.result for r in contents.rows if r.result.status == "crash"]
    assert len(crashed) == 2
    assert all(r.crash_kind == "error" and "driver exploded" in (r.crash_message or "")
               for r in crashed)


def test_resume_with_other_settings_is_a_user_error(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec.jsonl"
    base = ["record", "--out", str(out), "--profiler", FAKE, "--no-progress", "--repeats", "1",
            *SMALL]
    assert main([*base, "--max-rows", "2"]) == 0
    assert main([*base, "--passes", "7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different settings" in err[0]


@pytest.mark.parametrize(
    "argv, match",
    [
        (["record", "--out", "x.jsonl", "--backends", "tensorrt"], "unknown backends"),
        (["record", "--out", "x.jsonl", "--repeats", "0"], "--repeats"),
        (["record", "--out", "x.jsonl", "--batch-sizes", "0"], "batch sizes"),
        (["record"], "--out"),
        (["record", "--storage", "x.log"], "--study-name"),
        (["record", "--out", "x.jsonl", "--profiler", "nomodule_xyz:f"], "cannot import"),
        (["record", "--out", "x.jsonl", "--first", "colour=red"], "unknown configuration field"),
        (["record", "--out", "x.jsonl", "--max-other-load", "-1"], "max_other_load"),
        (["record", "--out", "x.jsonl", "--max-other-load", "0.5", "--quiet-retries", "-1"],
         "retries"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], match: str, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0]


def test_summary_of_foreign_file_is_one_line(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.jsonl.gz"
    bad.write_bytes(b"hello")
    assert main(["record", "--summary", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a gzip" in err[0]


def test_partial_table_replays_and_summarizes(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    grid = Grid(models=("resnet18", "vit_b16"), backends=("torch_compile", "onnxruntime"),
                precisions=("fp32", "int8"), batch_sizes=(1, 32), threads=(1,))
    rec = tmp_path / "r.jsonl"
    record(rec, grid, ProfileSettings(passes=5, latency_cap_ms=100.0), 2, fake_profile,
           progress=False, max_rows=10)
    table_path = compact(rec, tmp_path / "t.jsonl.gz")
    table = load_table(table_path)
    assert sum(len(r.repeats) for r in table.records.values()) == 10
    assert len(table.grid.configs()) == 16
    obj = TableObjective(table_path, "server_throughput")
    missing = next(c for c in grid.configs() if table.get(c) is None)
    p = {"model": missing.model, "backend": missing.backend, "precision": missing.precision,
         "batch_size": missing.batch_size}
    if missing.threads is not None:
        p["threads"] = missing.threads
    with pytest.raises(ReplayCrash, match="not_recorded"):
        obj(optuna.trial.FixedTrial(p))
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(obj, n_trials=30, catch=(ReplayCrash,))
    kinds = {t.user_attrs.get("crash_kind") for t in study.trials}
    assert "not_recorded" in kinds
    assert main(["record", "--summary", str(table_path)]) == 0
    out = capsys.readouterr().out
    assert "configs recorded: 10 / 16" in out and "server_throughput" in out


# ------------------------------------------------------------------------- distributed


def _distributed_roundtrip(storage: str, study_name: str, tmp_path: Path, workers: int) -> None:
    settings = ProfileSettings(passes=5, latency_cap_ms=100.0)
    n = prepare_study(storage, study_name, SMALL_GRID, settings, 2, {"note": "test"})
    assert n == 12
    assert prepare_study(storage, study_name, SMALL_GRID, settings, 2, {}) == 0
    with pytest.raises(ValueError, match="different settings"):
        prepare_study(storage, study_name, SMALL_GRID, ProfileSettings(passes=6), 2, {})
    os.environ[SLEEP_ENV] = "0.2"  # inherited by the spawned workers
    try:
        assert run_workers(storage, study_name, FAKE, workers) == 0
    finally:
        del os.environ[SLEEP_ENV]
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    measured = [t for t in study.trials if "result" in t.user_attrs]
    assert len(measured) == 12
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in measured)
    pairs = {(t.user_attrs["config_key"], t.user_attrs["repeat"]) for t in measured}
    assert len(pairs) == 12
    # A late worker finds the queue empty and creates no trial.
    assert run_worker(storage, study_name, FAKE) == 0
    assert len(optuna.load_study(study_name=study_name,
                                 storage=open_storage(storage)).trials) == len(study.trials)
    table = export_table(storage, study_name)
    assert len(table.records) == 6
    assert all(sorted(r.repeat for r in rec.repeats) == [0, 1] for rec in table.records.values())
    assert table.provenance["note"] == "test"
    # The export goes through the CLI too.
    out = tmp_path / f"{study_name}.jsonl.gz"
    assert main(["record", "--storage", storage, "--study-name", study_name, "--workers", "0",
                 "--no-enqueue", "--export", str(out)]) == 0
    assert set(load_table(out).records) == set(table.records)


@pytest.mark.multiprocess
def test_distributed_journal_storage(tmp_path: Path) -> None:
    _distributed_roundtrip(str(tmp_path / "journal.log"), "rec-journal", tmp_path, workers=2)


@pytest.mark.postgres
@pytest.mark.multiprocess
def test_distributed_postgres(tmp_path: Path) -> None:
    url = os.environ.get("TBA_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TBA_TEST_POSTGRES_URL is not set (start a server with .ci/start-postgres.sh)")
    name = f"deploybench-record-{uuid.uuid4().hex[:12]}"
    try:
        _distributed_roundtrip(url, name, tmp_path, workers=3)
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_settings_comparison_tolerates_new_default_fields() -> None:
    from deploybench.tables._recording import same_settings

    now = ProfileSettings(passes=50).to_dict()
    older = {k: v for k, v in now.items() if k != "seed"}  # a field the profiler added later
    assert same_settings(older, now)
    assert not same_settings(older, ProfileSettings(passes=50, seed=3).to_dict())
    assert not same_settings(now, ProfileSettings(passes=51).to_dict())
    assert not same_settings(None, now)
