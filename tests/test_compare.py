"""The comparison harness: metrics on hand-made studies, statistics, resume and the CLI."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial
from scipy import stats

from deploybench.cli import main
from deploybench.compare import (
    RUNS_FILE,
    ProblemInfo,
    RunSpec,
    SamplerConfig,
    TimingSampler,
    compute_metrics,
    normalised_regret,
    problem_info,
    run_comparison,
    run_one,
    summarise,
)
from deploybench.compare._store import append_row, read_rows, repair_tail
from deploybench.problems import Problem


class _Toy(Problem):
    """Hand-made problem: truth(params) = x + offset; oracle 10."""

    name = "toy"
    direction = "maximize"
    discrete = True

    def __init__(self, offset: float | None = None) -> None:
        self.offset = offset

    def __call__(self, trial: optuna.Trial) -> float:  # pragma: no cover - not optimised
        raise NotImplementedError

    def oracle(self) -> float:
        return 10.0

    def truth(self, params: Mapping[str, Any]) -> float | None:
        return None if self.offset is None else float(params["x"]) + self.offset


def _study(direction: Literal["minimize", "maximize"] = "maximize") -> optuna.Study:
    study = optuna.create_study(direction=direction)
    dist: dict[str, BaseDistribution] = {"x": FloatDistribution(0.0, 10.0)}
    spec = [
        (TrialState.COMPLETE, 1.0, 1.0, {"c": -1.0}),
        (TrialState.COMPLETE, 5.0, 2.0, {"c": 0.3}),  # infeasible, best raw value
        (TrialState.FAIL, None, 3.0, None),
        (TrialState.COMPLETE, 1.0, 1.0, {"c": -1.0}),  # duplicate of trial 0
        (TrialState.PRUNED, None, 4.0, None),
        (TrialState.COMPLETE, 4.0, 5.0, {"c": 0.0}),  # feasible (boundary)
    ]
    for state, value, x, constraints in spec:
        study.add_trial(
            create_trial(
                state=state,
                value=value,
                params={"x": x},
                distributions=dist,
                constraints=constraints,
            )
        )
    return study


def test_normalised_regret() -> None:
    assert normalised_regret(4.0, 10.0, 0.0, "maximize") == pytest.approx(0.6)
    assert normalised_regret(-5.0, 10.0, 0.0, "maximize") == 1.0  # clipped
    assert normalised_regret(11.0, 10.0, 0.0, "maximize") == 0.0  # clipped
    assert normalised_regret(2.0, 1.0, 5.0, "minimize") == pytest.approx(0.25)
    assert normalised_regret(None, 1.0, 5.0, "minimize") == 1.0
    with pytest.raises(ValueError, match="worse"):
        normalised_regret(2.0, 1.0, 0.0, "minimize")


def test_metrics_on_hand_made_study() -> None:
    trials = _study().get_trials()
    m = compute_metrics(trials, _Toy(), oracle=10.0, reference=0.0, sampler_seconds=0.012)
    assert m.statuses == "CIFCPC"
    assert (m.n_feasible, m.n_infeasible, m.n_fail, m.n_pruned) == (3, 1, 1, 1)
    assert m.best_observed == 4.0 and m.best_params == {"x": 5.0}
    assert m.score == 4.0  # no truth -> observed value
    assert m.regret == pytest.approx(0.6)
    assert m.waste == pytest.approx(3 / 6)
    assert m.duplicate_fraction == pytest.approx(1 / 6)
    assert m.first_feasible == 0
    assert m.best_so_far == [1.0, 1.0, 1.0, 1.0, 1.0, 4.0]
    assert m.values == [1.0, 5.0, None, 1.0, None, 4.0]
    assert m.overhead_ms_per_trial == pytest.approx(2.0)
    assert m.oracle_hit is False
    assert m.phases is None


def test_metrics_score_truth_of_recommended_config() -> None:
    trials = _study().get_trials()
    m = compute_metrics(trials, _Toy(offset=-2.0), oracle=10.0, reference=0.0, sampler_seconds=0)
    assert m.best_observed == 4.0  # the lucky observed draw
    assert m.score == 3.0  # truth of x = 5 is 5 - 2
    assert m.regret == pytest.approx(0.7)
    hit = compute_metrics(trials, _Toy(offset=5.0), oracle=10.0, reference=0.0, sampler_seconds=0)
    assert hit.oracle_hit is True and hit.regret == 0.0


def test_metrics_without_feasible_trials() -> None:
    study = optuna.create_study()
    study.add_trial(create_trial(state=TrialState.FAIL, params={}, distributions={}))
    m = compute_metrics(study.get_trials(), _Toy(), oracle=10.0, reference=0.0, sampler_seconds=0)
    assert m.regret == 1.0 and m.first_feasible is None and m.score is None
    assert m.waste == 1.0 and m.best_so_far == [None]


def test_timing_sampler_delegates_and_counts() -> None:
    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0, 1) + trial.suggest_int("n", 1, 5)

    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=3))
    plain.optimize(objective, n_trials=8)
    timing = TimingSampler(optuna.samplers.TPESampler(seed=3, n_startup_trials=3))
    timed = optuna.create_study(sampler=timing)
    timed.optimize(objective, n_trials=8)
    assert [t.params for t in plain.trials] == [t.params for t in timed.trials]
    assert timing.seconds > 0
    with pytest.raises(TypeError):
        TimingSampler(object())  # type: ignore[arg-type]


def test_timing_sampler_splits_time_by_trial() -> None:
    timing = TimingSampler(optuna.samplers.RandomSampler(seed=0))
    study = optuna.create_study(sampler=timing)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    assert set(timing.seconds_by_trial) == {0, 1, 2, 3, 4}
    assert sum(timing.seconds_by_trial.values()) == pytest.approx(timing.seconds)


def test_store_repairs_truncated_tail(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    append_row(path, {"key": "a", "v": 1})
    append_row(path, {"key": "b", "v": 2})
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"key": "c", "v"')  # killed mid-write
    assert [r["key"] for r in read_rows(path)] == ["a", "b"]
    assert repair_tail(path) == len('{"key": "c", "v"')
    append_row(path, {"key": "d"})
    assert [r["key"] for r in read_rows(path)] == ["a", "b", "d"]
    gz = tmp_path / "runs.jsonl.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert [r["key"] for r in read_rows(gz)] == ["a", "b", "d"]
    assert repair_tail(path) == 0


def test_run_one_prune_variant_turns_crashes_into_pruned() -> None:
    info = problem_info("crashy_branin")
    plain = run_one(RunSpec(SamplerConfig("tpe", "tpe"), info, budget=10, seed=0))
    pruned = run_one(RunSpec(SamplerConfig("tpe_prune", "tpe_prune"), info, budget=10, seed=0))
    assert plain["n_fail"] > 0 and plain["n_pruned"] == 0
    # same seed, same first (random start-up) trials: the crashes become PRUNED
    assert pruned["n_fail"] == 0 and pruned["n_pruned"] == plain["n_fail"]
    assert plain["statuses"].replace("F", "P") == pruned["statuses"]
    assert plain["n_errors"] == 0 and len(plain["best_so_far"]) == 10


def test_run_one_is_reproducible_and_budget_placeholder(tmp_path: Path) -> None:
    info = problem_info("hier_rosenbrock")
    spec = RunSpec(
        SamplerConfig("tpe", "tpe", {"n_startup_trials": "$budget"}), info, budget=6, seed=4
    )
    a, b = run_one(spec), run_one(spec)
    assert a["values"] == b["values"] and a["score"] == b["score"]
    assert a["score"] is not None and a["score"] != a["best_observed"]  # truth != noisy draw


def _hand_rows() -> list[dict[str, Any]]:
    rows = []
    regrets = {"a": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "b": [0.3, 0.5, 0.2, 0.9, 0.8, 0.7]}
    for sampler, values in regrets.items():
        for seed, r in enumerate(values):
            rows.append(
                {
                    "sampler": sampler,
                    "problem": "toy",
                    "budget": 5,
                    "seed": seed,
                    "direction": "maximize",
                    "oracle": 1.0,
                    "reference": 0.0,
                    "score": 1.0 - r,
                    "statuses": "CCFCI",
                    "values": [0.0, 1.0 - r, None, 0.0, 0.0],
                    "first_feasible": 0,
                    "waste": 0.4,
                    "duplicate_fraction": 0.0,
                    "overhead_ms_per_trial": 1.0 + seed,
                    "oracle_hit": r == 0.1,
                    "recommended_feasibility": 1.0,
                    "n_errors": 0,
                }
            )
    return rows


def test_summary_statistics_match_scipy() -> None:
    s = summarise(_hand_rows(), reference="b")
    cell_a = next(c for c in s.cells if c["sampler"] == "a")
    a = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    b = np.array([0.3, 0.5, 0.2, 0.9, 0.8, 0.7])
    assert cell_a["regret_median"] == pytest.approx(np.median(a))
    assert cell_a["regret_q25"] == pytest.approx(np.quantile(a, 0.25))
    assert cell_a["regret_ci_low"] <= a.mean() <= cell_a["regret_ci_high"]
    assert cell_a["oracle_hit_rate"] == pytest.approx(1 / 6)
    assert cell_a["overhead_ms_median"] == pytest.approx(3.5)
    assert s.ranks["a"]["5"] == 1.0 and s.ranks["b"]["all"] == 2.0
    test = next(t for t in s.tests if t["sampler"] == "a" and t["problem"] == "toy")
    assert test["p_value"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert (test["wins"], test["losses"], test["ties"]) == (5, 1, 0)
    with pytest.raises(ValueError, match="reference"):
        summarise(_hand_rows(), reference="zzz")


def test_summary_fallback_reference_when_problem_has_none() -> None:
    rows = _hand_rows()
    for row in rows:
        row["reference"] = None
    s = summarise(rows)
    assert any("median feasible observed" in n for n in s.notes)
    assert all(0.0 <= c["regret_mean"] <= 1.0 for c in s.cells)


def test_resume_skips_done_runs_and_survives_truncation(tmp_path: Path) -> None:
    samplers = [SamplerConfig("random", "random")]
    info = problem_info("family_band")
    kwargs: dict[str, Any] = {"jobs": 1, "progress": False, "figures": False}
    first = run_comparison(samplers, [info], [0, 1], [5], tmp_path, **kwargs)
    assert (first.n_ran, first.n_skipped) == (2, 0)
    runs = tmp_path / RUNS_FILE
    lines = runs.read_text().splitlines(keepends=True)
    runs.write_text(lines[0] + lines[1][: len(lines[1]) // 2])  # killed mid-write
    second = run_comparison(samplers, [info], [0, 1], [5], tmp_path, **kwargs)
    assert (second.n_ran, second.n_skipped) == (1, 1)
    third = run_comparison(samplers, [info], [0, 1], [5], tmp_path, **kwargs)
    assert (third.n_ran, third.n_skipped) == (0, 2)
    assert len(list(read_rows(runs))) == 2
    assert [r["values"] for r in first.rows] == [r["values"] for r in third.rows]


def test_plan_rejects_bad_input(tmp_path: Path) -> None:
    info = problem_info("crashy_branin")
    with pytest.raises(ValueError, match="budgets"):
        run_comparison([SamplerConfig("r", "random")], [info], [0], [0], tmp_path)
    with pytest.raises(ValueError, match="unique"):
        run_comparison(
            [SamplerConfig("r", "random"), SamplerConfig("r", "tpe")], [info], [0], [3], tmp_path
        )
    assert isinstance(info, ProblemInfo) and info.reference is not None


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    argv = ["compare", "--samplers", "random", "tpe", "--problems", "crashy_branin"]
    argv += ["--seeds", "2", "--budgets", "8", "--jobs", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "crashy_branin" in printed and "4 runs executed, 0 resumed" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert {c["sampler"] for c in summary["cells"]} == {"random", "tpe"}
    assert summary["reference"] == "tpe"
    for name in ("summary.md", "anytime_b8.png", "waste.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "anytime_b8.png").read_bytes()[:4] == b"\x89PNG"
    assert main(argv) == 0
    assert "0 runs executed, 4 resumed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--problems", "nope"], "unknown problem 'nope'"),
        (["--samplers", "nope"], "unknown sampler 'nope'"),
        (["--budgets", "0"], "--budgets must all be >= 1"),
        (["--seeds", "0"], "--seeds must be >= 1"),
        (["--samplers", "tpe", "--sampler-kwargs", "tpe={bad"], "invalid JSON"),
        (["--samplers", "tpe", "--sampler-kwargs", 'tpe={"bogus": 1}'], "cannot build"),
        (["--samplers", "random", "--reference", "tpe"], "--reference 'tpe'"),
    ],
)
def test_cli_bad_input_is_one_line(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compare", "--out", str(tmp_path / "x"), "--quiet", "--problems", "crashy_branin"]
    assert main([*argv, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.multiprocess
def test_parallel_jobs_match_serial(tmp_path: Path) -> None:
    samplers = [SamplerConfig("random", "random"), SamplerConfig("qmc", "qmc")]
    info = problem_info("oom_grid")
    serial = run_comparison(samplers, [info], [0, 1], [6], tmp_path / "s", jobs=1, progress=False)
    par = run_comparison(samplers, [info], [0, 1], [6], tmp_path / "p", jobs=2, progress=False)
    assert [r["values"] for r in serial.rows] == [r["values"] for r in par.rows]


def test_pool_workers_end_when_compare_is_killed(tmp_path: Path) -> None:
    """``kill -9`` of ``deploybench compare`` must not leave its worker processes behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    proc = subprocess.Popen(
        [sys.executable, "-m", "deploybench.cli", "compare", "--samplers", "tba_hybrid",
         "--problems", "hier_rosenbrock", "--seeds", "400", "--budgets", "50", "--jobs", "2",
         "--out", str(tmp_path / "out"), "--quiet", "--no-figures"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        parent = psutil.Process(proc.pid)
        workers: list[psutil.Process] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = [c for c in parent.children()
                       if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) == 2, "the pool workers never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _gone, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, f"workers survived their parent: {[p.pid for p in alive]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
