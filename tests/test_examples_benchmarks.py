"""The benchmark scripts in examples/ run (tiny settings), so they cannot rot."""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import optuna
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example(script: str, *args: str, timeout: float = 300) -> str:
    """The stdout of an example script that must exit with 0."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=timeout, check=True,
    ).stdout


def _example_fails(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The finished process of an example script run with bad input (exit status not
    checked here: the caller asserts it)."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True, text=True, timeout=120,
    )


def test_every_example_script_has_a_test() -> None:
    tested_here = {"benchmark_overhead.py", "table_flip_sources.py", "paired_ablation.py",
                   "overhead_by_phase.py",
                   "move_productivity.py",
                   "heldout_problems.py", "heldout_third_set.py", "heldout_fourth_set.py",
                   "heldout_fifth_set.py", "heldout_sixth_set.py", "heldout_seventh_set.py",
                   "heldout_eighth_set.py", "heldout_ninth_set.py", "heldout_tenth_set.py",
                   "quality_target.py", "regret_tables.py",
                   "same_outcomes.py", "concurrent_duplicates.py", "duplicate_fuzz.py"}
    tested_elsewhere = {  # tests/test_examples.py and tests/test_recommend.py
        "sampler_quickstart.py", "dashboard.py", "multi_worker_journal.py",
        "multi_worker_postgres.py", "replay_compare.py", "deploy_live.py",
        "recommend_benefit.py",
    }
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts <= tested_here | tested_elsewhere, scripts - tested_here - tested_elsewhere


def test_overhead_by_phase_reports_both_phases() -> None:
    out = _example(
        "overhead_by_phase.py", "--budget", "8", "--seeds", "1", "--problems", "crashy_branin"
    )
    row = out.strip().splitlines()[2].split()
    tpe, hybrid, phase2_only, phase1_trials = (float(row[i]) for i in (1, 2, 4, 6))
    assert row[0] == "crashy_branin" and tpe > 0 and 0 <= phase2_only <= hybrid
    assert 1 <= phase1_trials <= 8
    bad = _example_fails("overhead_by_phase.py", "--problems", "nope")
    assert bad.returncode == 2 and "unknown problem" in bad.stderr


@pytest.mark.slow
def test_benchmark_overhead_runs() -> None:
    out = _example("benchmark_overhead.py", "--trials", "15", "--repeats", "1")
    header, row = out.strip().splitlines()[:2]
    assert "ratio" in header
    fields = row.split()
    assert fields[0] == "15" and float(fields[3]) > 0
    sqlite = _example(
        "benchmark_overhead.py", "--trials", "6", "--repeats", "1", "--storage", "sqlite"
    )
    fields = sqlite.strip().splitlines()[1].split()
    assert fields[0] == "6" and float(fields[1]) > 0 and float(fields[2]) > 0
    bad = _example_fails("benchmark_overhead.py", "--repeats", "0")
    assert bad.returncode == 2 and "must be >= 1" in bad.stderr


def test_concurrent_duplicates_runs_threads_and_reports_undeclared_repeats() -> None:
    out = _example(
        "concurrent_duplicates.py", "--seeds", "2", "--jobs", "3", "--sleep", "0.005", "--show"
    )
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("2 studies, 26 trials, 3 threads, objective 5 ms")
    assert "undeclared repeats" in summary
    out = _example(
        "concurrent_duplicates.py", "--seeds", "1", "--jobs", "2", "--sleep", "0.005",
        "--processes"
    )
    assert "2 processes, objective 5 ms: undeclared repeats" in out
    bad = _example_fails("concurrent_duplicates.py", "--jobs", "0")
    assert bad.returncode == 2 and "--jobs" in bad.stderr


def test_duplicate_fuzz_reports_both_samplers() -> None:
    out = _example("duplicate_fuzz.py", "--seeds", "2", "--trials", "12", "--show")
    lines = out.strip().splitlines()
    for name in ("TBAHybridSampler", "TBASampler"):
        summary = next(line for line in lines if line.startswith(f"{name}: "))
        assert summary.startswith(f"{name}: 2 studies of 12 trials, ")
        assert summary.endswith(" repeats")
    threads = _example("duplicate_fuzz.py", "--seeds", "1", "--trials", "8", "--jobs", "2",
                       "--blacklist-threshold", "1000")
    assert "1 studies of 8 trials" in threads
    bad = _example_fails("duplicate_fuzz.py", "--trials", "0")
    assert bad.returncode == 2 and "--trials must be >= 1" in bad.stderr


def test_random_spaces_of_the_fuzz_are_reproducible() -> None:
    # The crash and constraint draws hash the configuration; with Python's salted ``hash``
    # two processes would see different objectives.
    code = (
        "import sys, optuna; sys.path.insert(0, sys.argv[1]); "
        "from duplicate_fuzz import random_space; "
        "optuna.logging.set_verbosity(optuna.logging.ERROR); "
        "f, size = random_space(7); "
        "s = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)); "
        "s.optimize(f, n_trials=8, catch=(RuntimeError,)); "
        "print(size, [(t.state.name, t.value, t.constraints) for t in s.trials])"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-c", code, str(EXAMPLES)], capture_output=True, text=True,
            timeout=120, check=True, env={**os.environ, "PYTHONHASHSEED": salt},
        ).stdout
        for salt in ("1", "2")
    ]
    assert outs[0] == outs[1] and "COMPLETE" in outs[0]


def test_table_flip_sources_counts_flips_caused_by_load(tmp_path: Path) -> None:
    from deploybench.profiling._types import DeployConfig
    from deploybench.tables import ConfigRecord, Grid, RepeatSummary, Table, save_table

    def rep(i: int, p95: float, load: float | None) -> RepeatSummary:
        return RepeatSummary(repeat=i, status="ok", latency_p95_ms=p95, latency_p99_ms=p95,
                             peak_memory_mb=100.0, throughput_ips=10.0, other_load_cores=load)

    grid = Grid(models=("resnet18",), backends=("onnxruntime",), precisions=("fp32",),
                batch_sizes=(1, 2), threads=(1,))
    by_load = DeployConfig("resnet18", "onnxruntime", "fp32", 1, 1)  # flips only when loaded
    by_noise = DeployConfig("resnet18", "onnxruntime", "fp32", 2, 1)  # flips when quiet too
    recs = [ConfigRecord(by_load, [rep(0, 10, 0.1), rep(1, 30, 2.0), rep(2, 12, 0.0)], 0.7),
            ConfigRecord(by_noise, [rep(0, 10, 0.1), rep(1, 30, 0.2), rep(2, 11, None)], 0.7)]
    path = save_table(Table(grid, {r.config.key(): r for r in recs}), tmp_path / "t.jsonl.gz")
    out = _example("table_flip_sources.py", "--table", str(path), timeout=120)
    assert "2 configurations, 6 repeats: 1 loaded" in out and "1 with unknown load" in out
    line = next(x for x in out.splitlines() if x.startswith("edge_tight"))  # p95 <= 20 ms
    assert line.split()[3] == "2;" and line.split()[-1] == "1", line


def test_paired_ablation_pairs_runs_by_problem_budget_and_seed(tmp_path: Path) -> None:
    def row(sampler: str, seed: int, score: float, waste: float) -> str:
        return json.dumps({"sampler": sampler, "problem": "p", "budget": 10, "seed": seed,
                           "oracle": 1.0, "reference": 0.0, "direction": "maximize",
                           "score": score, "waste": waste})

    lines = [row("base", s, 0.5, 0.4) for s in range(4)]
    lines += [row("var", s, 0.75, 0.2) for s in range(3)]  # seed 3 has no pair
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = _example(
        "paired_ablation.py", str(path), "--baseline", "base", "--per-problem", timeout=120
    )
    assert "== var vs base" in out
    line = next(x for x in out.splitlines() if "n=" in x)
    assert "n=  3" in line and "regret 0.500 -> 0.250" in line and "wins 3 / losses 0" in line
    assert "waste 0.400 -> 0.200" in line
    assert "p: -0.250" in out
    bad = _example_fails("paired_ablation.py", str(path), "--baseline", "x")
    assert bad.returncode == 2 and "no runs of the baseline 'x'" in bad.stderr


def test_same_outcomes_pairs_runs_by_key_and_flags_any_changed_trial(tmp_path: Path) -> None:
    def row(key: str, values: list[float], ms: float) -> str:
        return json.dumps({"key": key, "sampler": "s", "problem": "p", "budget": 2, "seed": 0,
                           "statuses": ["COMPLETE", "FAIL"], "values": values,
                           "overhead_ms_per_trial": ms})

    before, after = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    before.write_text(row("a", [1.0, 2.0], 4.0) + "\n" + row("b", [3.0, 4.0], 6.0) + "\n")
    after.write_text(row("a", [1.0, 2.0], 1.0) + "\n" + row("c", [0.0, 0.0], 2.0) + "\n")
    cmd = [sys.executable, str(EXAMPLES / "same_outcomes.py"), str(before), str(after)]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "1 runs in both files; 1 identical, 0 differ" in ok.stdout
    assert "median sampler ms/trial 4.00 (before) -> 1.00 (after) over 1 runs" in ok.stdout
    after.write_text(row("a", [1.0, 2.5], 1.0) + "\n")
    changed = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert changed.returncode == 1 and "1 differ" in changed.stdout
    assert "differs: s p budget 2 seed 0" in changed.stdout
    # floating-point noise: different unless a relative tolerance is given
    after.write_text(row("a", [1.0, 2.0 * (1 + 1e-13)], 1.0) + "\n")
    noisy = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert noisy.returncode == 1 and "1 differ" in noisy.stdout
    tolerant = subprocess.run([*cmd, "--rtol", "1e-9"], capture_output=True, text=True,
                              timeout=120)
    assert tolerant.returncode == 0 and "1 identical" in tolerant.stdout
    bad = subprocess.run([*cmd, "--rtol", "-1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--rtol must be >= 0" in bad.stderr


def test_move_productivity_counts_every_trial() -> None:
    out = _example(
        "move_productivity.py", "--problem", "crashy_branin", "--budget", "12", "--seeds", "2"
    )
    rows = [x.split() for x in out.splitlines()[2:]]
    assert sum(int(r[-6]) for r in rows) == 24  # the "trials" column covers every trial
    assert any(x[0] == "phase2" for x in rows) and any(x[0] == "phase1" for x in rows)
    bad = _example_fails("move_productivity.py", "--problem", "nope")
    assert bad.returncode == 2 and "unknown problem" in bad.stderr


def test_move_productivity_takes_a_heldout_problem() -> None:
    out = _example(
        "move_productivity.py", "--problem", "heldout:quant_serve", "--budget", "10", "--seeds",
        "2"
    )
    assert out.startswith("heldout:quant_serve, budget 10")
    rows = [x.split() for x in out.splitlines()[2:]]
    assert sum(int(r[-6]) for r in rows) == 20
    bad = _example_fails("move_productivity.py", "--problem", "heldout:nope")
    assert bad.returncode == 2 and "unknown held-out problem" in bad.stderr


def test_heldout_problems_runs_and_reports_every_cell() -> None:
    out = _example(
        "heldout_problems.py", "--samplers", "tba_hybrid", "random", "--budgets", "6", "--seeds",
        "2", "--jobs", "1"
    )
    rows = [x.split() for x in out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["ackley10", "cat_heavy", "int_knap", "lr_schedule",
                                    "edge_pick", "sparse_box", "cond_arch", "crash_half",
                                    "oom_batch", "flaky", "flag_combo", "quant_mix",
                                    "mostly_crash", "wide_cat", "int_ladder",
                                    "styblinski6", "hparam_plain", "nan_region", "wall20",
                                    "timeout_prune", "ellipse12", "mixed16", "rot_quad14",
                                    "cat_plus12", "sphere15", "hp_wide12", "band12",
                                    "cat_hd14", "levy10", "log_hd11", "int_step13",
                                    "cat3_hd12", "cond_hd", "many_walls10", "gbm_hpo",
                                    "quant_serve", "narrow_valley", "cond_deep",
                                    "raw_units", "cat_grid", "backend_knobs",
                                    "mem_edge", "noisy_edge", "thread_pools",
                                    "compile_modes"]
    # problem, budget, then per sampler: median, (waste, and runs with nothing feasible)
    assert all(r[1] == "6" and len(r) == 8 for r in rows)
    assert all(0 <= int(r[4].rstrip(")")) <= 2 and 0 <= int(r[7].rstrip(")")) <= 2
               for r in rows)
    paired = _example(
        "heldout_problems.py", "--samplers", "tba_hybrid", "random", "--budgets", "6", "--seeds",
        "3", "--jobs", "1", "--problems", "flaky", "crash_half", "--paired"
    )
    lines = paired.split("paired by seed")[1].strip().splitlines()[1:]
    assert [x.split()[0] for x in lines] == ["flaky", "crash_half"]
    for x in lines:  # better + worse runs never exceed the 3 seeds
        better, worse = x.split("random: ")[1].split()[0].split("/")
        assert int(better) + int(worse) <= 3
    bad = _example_fails("heldout_problems.py", "--hybrid-kwargs", '{"p_repair": 2}')
    assert bad.returncode == 2 and "p_repair" in bad.stderr and "Traceback" not in bad.stderr
    bad = _example_fails("heldout_problems.py", "--workers", "0")
    assert bad.returncode == 2 and "--workers" in bad.stderr and "Traceback" not in bad.stderr


def test_heldout_problems_simulated_workers_keep_k_trials_in_flight() -> None:
    heldout = _import_example("heldout_problems")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    running_at_ask: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        running = trial.study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
        running_at_ask.append(len(running))
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number % 5 == 1:
            raise heldout.Crash("crash")
        if trial.number % 5 == 2:
            raise optuna.TrialPruned()
        return float("nan") if trial.number % 5 == 3 else x

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    heldout._simulate_workers(study, objective, budget=12, workers=4)
    # the trial itself plus the up to three asked before it and not yet told
    assert running_at_ask == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4]
    states = [t.state for t in study.trials]
    assert len(states) == 12 and optuna.trial.TrialState.RUNNING not in states
    assert states[1] == states[3] == optuna.trial.TrialState.FAIL  # crash, NaN
    assert states[2] == optuna.trial.TrialState.PRUNED
    assert states[0] == optuna.trial.TrialState.COMPLETE
    # one tba_hybrid run with workers gives a result row like a sequential one
    row = heldout.run_one(("flaky", "tba_hybrid", 0, 8, {}, 3))
    assert row[:4] == ("flaky", "tba_hybrid", 0, 8) and 0.0 <= row[5] <= 1.0



def test_heldout_problems_pairs_against_a_saved_baseline(tmp_path: Path) -> None:
    saved = tmp_path / "old.json"
    base = ["--samplers", "tba_hybrid", "--budgets", "6", "--seeds", "3", "--jobs", "1",
            "--problems", "flaky", "crash_half"]
    _example("heldout_problems.py", *base, "--save", str(saved))
    assert len(json.loads(saved.read_text())) == 6  # 2 problems x 3 seeds
    out = _example("heldout_problems.py", *base, "--baseline", str(saved))
    # the same code and seeds give the same runs: no pair differs
    assert "(6 pairs)" in out and "budget 6: better in 0 runs, worse in 0" in out
    changed = _example("heldout_problems.py", *base, "--baseline", str(saved),
                       "--hybrid-kwargs", '{"n_startup_trials": 1}')
    assert "better in 0 runs, worse in 0" not in changed
    bad = _example_fails("heldout_problems.py", "--samplers", "tpe", "--baseline", str(saved))
    assert bad.returncode == 2 and "add tba_hybrid" in bad.stderr


def test_quality_target_checks_every_part_of_the_target(tmp_path: Path) -> None:
    def row(sampler: str, seed: int, score: float, waste: float, dup: float, ms: float) -> str:
        return json.dumps({"sampler": sampler, "problem": "p", "budget": 10, "seed": seed,
                           "oracle": 1.0, "reference": 0.0, "direction": "maximize",
                           "score": score, "waste": waste, "duplicate_fraction": dup,
                           "overhead_ms_per_trial": ms})

    # tba_hybrid: regret 0.5 vs tpe 0.25 (a loss on every seed), waste 0.2, no duplicates,
    # 2 ms/trial vs tpe's 1 ms (ratio 2).
    lines = [row("tba_hybrid", s, 0.5, 0.2, 0.0, 2.0) for s in range(8)]
    lines += [row("tpe", s, 0.75, 0.5, 0.1, 1.0) for s in range(8)]
    lines += [row("random", s, 0.25, 0.6, 0.0, 0.1) for s in range(8)]
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quality_target.py"), str(path)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    cell = next(x for x in out.stdout.splitlines() if x.split()[:2] == ["10", "p"])
    fields = cell.split()
    assert fields[2] == "0.500" and fields[3:5] == ["tpe", "0.250"], cell
    assert float(fields[5]) < 0.05 and fields[6] == "LOSS*", cell
    assert fields[7:] == ["0.20", "0.000", "2.00", "2.00", "0.20", "tba_hybrid"], cell
    assert "regret <= best of random, tpe: 0/1" in out.stdout
    assert "waste <= 0.25: 1/1  (met by at least one sampler in the file: 1/1)" in out.stdout
    assert "zero duplicates: 1/1" in out.stdout
    assert "overhead <= 1.5x tpe (median ms/trial in these runs): 0/1" in out.stdout
    assert "no runs of ['tpe_prune', 'gp']" in out.stderr
    bad = _example_fails("quality_target.py", str(path), "--sampler", "x")
    assert bad.returncode == 2 and "no runs of 'x'" in bad.stderr


def _import_example(module: str) -> Any:
    """An example module (examples/ is not a package)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))


def _uniform_shares(problems: dict[str, Any], crash: type[Exception]
                    ) -> dict[str, tuple[float, float, float]]:
    """Per problem, the crashed / other wasted (infeasible or pruned) / feasible shares of
    600 RandomSampler trials (seed 3)."""
    import optuna

    from deploybench.compare._metrics import STATUS_FAIL, STATUS_FEASIBLE, trial_status

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    shares = {}
    for name, (objective, direction) in problems.items():
        study = optuna.create_study(direction=direction,
                                    sampler=optuna.samplers.RandomSampler(seed=3))
        study.optimize(objective, n_trials=600, catch=(crash,))
        statuses = [trial_status(t) for t in study.trials]
        crashed = statuses.count(STATUS_FAIL) / len(statuses)
        feasible = statuses.count(STATUS_FEASIBLE) / len(statuses)
        shares[name] = (crashed, 1.0 - crashed - feasible, feasible)
    return shares


def _assert_documented_shares(module: Any, documented: dict[str, tuple[float, float, float]]
                              ) -> None:
    """A held-out set's problems are exactly the documented ones, each with its
    documented crashed / infeasible-or-pruned / feasible shares (within 0.06)."""
    assert set(module.PROBLEMS) == set(documented)
    for name, shares in _uniform_shares(module.PROBLEMS, module.Crash).items():
        assert shares == pytest.approx(documented[name], abs=0.06), name


def test_heldout_third_set_problems_behave_as_documented() -> None:
    third = _import_example("heldout_third_set")
    import optuna

    from deploybench.compare import STATUS_FEASIBLE, trial_status

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    counts: dict[str, float] = {}
    for name, (objective, direction) in third.PROBLEMS.items():
        study = optuna.create_study(direction=direction,
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(objective, n_trials=400, catch=(third.Crash,))
        states = [t.state for t in study.trials]
        counts[name] = states.count(optuna.trial.TrialState.FAIL) / len(states)
        assert any(trial_status(t) == STATUS_FEASIBLE for t in study.trials), name
    # crash_half: about half the box crashes; flaky: 20 % of trial numbers, whatever the
    # configuration; the two structured ones crash less often
    assert 0.4 < counts["crash_half"] < 0.6
    assert 0.15 < counts["flaky"] < 0.25
    assert 0.05 < counts["cond_arch"] < 0.35 and 0.05 < counts["oom_batch"] < 0.35
    fixed = {"kind": "b", "mode": "y", "u": 0.7, "k": 12}
    study = optuna.create_study()  # one configuration, evaluated 40 times
    for _ in range(40):
        study.enqueue_trial(fixed)
    study.optimize(third.flaky, n_trials=40, catch=(third.Crash,))
    outcomes = {t.state for t in study.trials}
    assert outcomes == {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL}


def test_heldout_fourth_set_problems_behave_as_documented() -> None:
    fourth = _import_example("heldout_fourth_set")
    import optuna

    # crashed / infeasible / feasible shares under uniform sampling, as the docstring says
    documented = {"flag_combo": (0.25, 0.30, 0.44), "quant_mix": (0.36, 0.34, 0.30),
                  "mostly_crash": (0.77, 0.0, 0.23), "wide_cat": (0.48, 0.25, 0.28),
                  "int_ladder": (0.14, 0.35, 0.50)}
    _assert_documented_shares(fourth, documented)
    # the npu branch runs int8 only, the gpu has no int8 kernels
    for params in ({"device": "npu", "precision": "fp16", "batch": 1, "tile": 32},
                   {"device": "gpu", "precision": "int8", "batch": 1, "streams": 1}):
        with pytest.raises(fourth.Crash):
            fourth.quant_mix(cast(optuna.Trial, optuna.trial.FixedTrial(params)))
    npu = optuna.trial.FixedTrial({"device": "npu", "precision": "int8", "batch": 1,
                                   "tile": 32})
    assert fourth.quant_mix(cast(optuna.Trial, npu)) > 0.77


def test_heldout_fifth_set_problems_behave_as_documented() -> None:
    fifth = _import_example("heldout_fifth_set")
    import optuna

    # crashed / infeasible-or-pruned / feasible shares under uniform sampling (docstring)
    documented = {"styblinski6": (0.0, 0.0, 1.0), "hparam_plain": (0.0, 0.0, 1.0),
                  "nan_region": (0.16, 0.0, 0.84), "wall20": (0.21, 0.11, 0.68),
                  "timeout_prune": (0.18, 0.44, 0.38), "ellipse12": (0.37, 0.10, 0.53),
                  "mixed16": (0.08, 0.24, 0.67), "rot_quad14": (0.55, 0.0, 0.45),
                  "cat_plus12": (0.18, 0.42, 0.41)}
    _assert_documented_shares(fifth, documented)
    # NaN is how nan_region reports divergence (Optuna records FAIL); pruning is an abort
    diverged = optuna.trial.FixedTrial({"solver": "a", "x0": 0.9, "x1": 0.9, "x2": 0.0,
                                        "x3": 0.0})
    assert math.isnan(fifth.nan_region(cast(optuna.Trial, diverged)))
    slow = optuna.trial.FixedTrial({"model": "large", "batch": 256, "replicas": 1,
                                    "window_ms": 1.0})
    with pytest.raises(optuna.TrialPruned):
        fifth.timeout_prune(cast(optuna.Trial, slow))
    # the Styblinski-Tang optimum
    best = optuna.trial.FixedTrial({f"x{i}": -2.903534 for i in range(6)})
    assert fifth.styblinski6(cast(optuna.Trial, best)) == pytest.approx(-235.0, abs=0.1)


def test_heldout_sixth_set_problems_behave_as_documented() -> None:
    sixth = _import_example("heldout_sixth_set")
    import optuna

    # crashed / infeasible / feasible shares under uniform sampling, as the docstring says
    documented = {"sphere15": (0.09, 0.0, 0.91), "hp_wide12": (0.04, 0.0, 0.96),
                  "band12": (0.49, 0.0, 0.51), "cat_hd14": (0.44, 0.09, 0.47)}
    _assert_documented_shares(sixth, documented)
    # each problem has at least twelve numerical parameters, and its target is runnable
    for name, (objective, _) in sixth.PROBLEMS.items():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(objective, n_trials=1, catch=(sixth.Crash,))
        numerical = [d for d in study.trials[0].distributions.values()
                     if not isinstance(d, optuna.distributions.CategoricalDistribution)]
        assert len(numerical) >= 12, name
    target = {f"x{i}": float(v) for i, v in enumerate(sixth._BAND_TARGET)}
    assert sixth.band12(cast(optuna.Trial, optuna.trial.FixedTrial(target))) == 0.0
    with pytest.raises(sixth.Crash):
        sixth.cat_hd14(cast(optuna.Trial, optuna.trial.FixedTrial(
            {"backend": "ort", "precision": "fp16", **{f"k{i}": 0.5 for i in range(12)}})))


def test_heldout_seventh_set_problems_behave_as_documented() -> None:
    seventh = _import_example("heldout_seventh_set")
    import optuna

    # crashed / infeasible / feasible shares under uniform sampling, as the docstring says
    documented = {"levy10": (0.05, 0.0, 0.95), "log_hd11": (0.0, 0.29, 0.71),
                  "int_step13": (0.04, 0.0, 0.96), "cat3_hd12": (0.25, 0.21, 0.54),
                  "cond_hd": (0.15, 0.0, 0.85), "many_walls10": (0.32, 0.0, 0.68)}
    _assert_documented_shares(seventh, documented)
    # each problem has ten to thirteen parameters in every configuration
    for name, (objective, _) in seventh.PROBLEMS.items():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(objective, n_trials=8, catch=(seventh.Crash,))
        assert all(10 <= len(t.distributions) <= 13 for t in study.trials), name
    # Levy's minimum is 0 at x = 1; the best of kind "b" beats the best of kind "a" (0.3)
    levy_best = optuna.trial.FixedTrial({f"x{i}": 1.0 for i in range(10)})
    assert seventh.levy10(cast(optuna.Trial, levy_best)) == pytest.approx(0.0, abs=1e-12)
    b_best = {"kind": "b", **{f"b{i}": float(v) for i, v in enumerate(seventh._COND_B)},
              "m0": 6, "m1": 5, "m2": 2, "m3": 8}
    assert seventh.cond_hd(cast(optuna.Trial, optuna.trial.FixedTrial(b_best))) < 0.3
    with pytest.raises(seventh.Crash):
        seventh.many_walls10(cast(optuna.Trial, optuna.trial.FixedTrial(
            {f"x{i}": 0.9 if i < 3 else 0.5 for i in range(10)})))


def test_heldout_tenth_set_problems_behave_as_documented() -> None:
    tenth = _import_example("heldout_tenth_set")

    # crashed / infeasible-or-pruned / feasible shares under uniform sampling (docstring)
    documented = {"mem_edge": (0.16, 0.51, 0.33), "noisy_edge": (0.16, 0.33, 0.51),
                  "thread_pools": (0.15, 0.73, 0.12), "compile_modes": (0.34, 0.07, 0.59)}
    _assert_documented_shares(tenth, documented)
    import optuna

    def fixed(params: dict[str, Any]) -> optuna.Trial:
        return cast(optuna.Trial, optuna.trial.FixedTrial(params))

    with pytest.raises(tenth.Crash):  # fp16 with ZeRO-3 diverges
        tenth.mem_edge(fixed({"precision": "fp16", "zero_stage": 3, "checkpointing": False,
                              "micro_batch": 4, "grad_accum": 8}))
    with pytest.raises(tenth.Crash):  # out of memory at the largest fp32 micro-batch
        tenth.mem_edge(fixed({"precision": "fp32", "zero_stage": 0, "checkpointing": False,
                              "micro_batch": 128, "grad_accum": 2}))
    with pytest.raises(tenth.Crash):  # compact affinity cannot bind five pools
        tenth.thread_pools(fixed({"intra_threads": 4, "inter_threads": 5,
                                  "affinity": "compact", "spin_wait": False, "batch": 1}))
    with pytest.raises(tenth.Crash):  # an opset without LayerNormalization
        tenth.compile_modes(fixed({"backend": "onnx", "precision": "fp32", "batch": 8,
                                   "opset": 16, "provider": "cpu"}))
    # noisy_edge: one configuration measured 60 times is feasible on some trials and not
    # on others (the noise is seeded by the trial number: the same run repeats exactly)
    params = {"model": "small", "precision": "fp32", "governor": "balanced", "threads": 6,
              "batch": 6}  # 12.0 ms before the noise: the limit
    flips = []
    for _ in range(2):
        study = optuna.create_study()
        for _ in range(60):
            study.enqueue_trial(params)
        study.optimize(tenth.noisy_edge, n_trials=60)
        flips.append([t.constraints["p95_latency"] for t in study.trials])
    assert flips[0] == flips[1]
    assert min(flips[0]) <= 0.0 < max(flips[0])
    assert len({t.value for t in study.trials}) == 1  # energy is computed, not measured


def test_heldout_ninth_set_problems_behave_as_documented() -> None:
    ninth = _import_example("heldout_ninth_set")

    # crashed / infeasible-or-pruned / feasible shares under uniform sampling (docstring)
    documented = {"raw_units": (0.19, 0.48, 0.34), "cat_grid": (0.33, 0.18, 0.49),
                  "backend_knobs": (0.20, 0.11, 0.69)}
    _assert_documented_shares(ninth, documented)
    import optuna

    def fixed(params: dict[str, Any]) -> optuna.Trial:
        return cast(optuna.Trial, optuna.trial.FixedTrial(params))

    with pytest.raises(ninth.Crash):  # no int8 kernels for this model
        ninth.raw_units(fixed({"model": "vit_s", "precision": "int8", "threads": 4,
                               "batch": 1, "resolution": 224}))
    # raw units: the constraints are written in ms, MB and mJ, not relative
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"model": "mobilenet", "precision": "fp32", "threads": 1,
                         "batch": 16, "resolution": 320})
    study.optimize(ninth.raw_units, n_trials=1)
    cons = study.trials[0].constraints
    assert set(cons) == {"latency_ms", "memory_mb", "energy_mj"} and cons["memory_mb"] > 100
    # every value of cat_grid is categorical
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(ninth.cat_grid, n_trials=5, catch=(ninth.Crash,))
    assert all(isinstance(d, optuna.distributions.CategoricalDistribution)
               for t in study.trials for d in t.distributions.values())
    with pytest.raises(ninth.Crash):  # an engine build without enough workspace
        ninth.backend_knobs(fixed({"backend": "tensorrt", "batch": 32, "workspace_mb": 16,
                                   "opt_level": 3}))


def test_heldout_eighth_set_problems_behave_as_documented() -> None:
    eighth = _import_example("heldout_eighth_set")

    # crashed / infeasible-or-pruned / feasible shares under uniform sampling (docstring)
    documented = {"gbm_hpo": (0.09, 0.21, 0.70), "quant_serve": (0.32, 0.37, 0.31),
                  "narrow_valley": (0.38, 0.58, 0.03), "cond_deep": (0.21, 0.08, 0.71)}
    _assert_documented_shares(eighth, documented)
    import optuna

    with pytest.raises(eighth.Crash):  # an unsupported runtime x precision pair
        eighth.quant_serve(cast(optuna.Trial, optuna.trial.FixedTrial(
            {"model": "1b", "runtime": "hf", "weights": "int4", "kv_cache": "fp16",
             "batch": 1, "max_seq": 512})))
    with pytest.raises(optuna.TrialPruned):  # step decay with a tiny gamma stalls
        eighth.cond_deep(cast(optuna.Trial, optuna.trial.FixedTrial(
            {"optimizer": "adam", "lr": 1e-3, "beta2": 0.99, "scheduler": "step",
             "gamma": 0.02, "step_size": 5})))


def test_regret_tables_bold_the_best_mean_and_list_ranks(tmp_path: Path) -> None:
    def cell(sampler: str, budget: int, regret: float | None, waste: float) -> dict[str, Any]:
        return {"sampler": sampler, "problem": "p", "budget": budget, "regret_mean": regret,
                "waste_mean": waste}

    summary = {
        "samplers": ["tba_hybrid", "tpe"], "problems": ["p"], "budgets": [15, 25],
        "cells": [cell("tba_hybrid", 15, 0.1234, 0.5), cell("tpe", 15, 0.2, 0.25),
                  cell("tba_hybrid", 25, 0.3, 0.5), cell("tpe", 25, None, 0.0)],
        "ranks": {"tba_hybrid": {"15": 1.0, "25": 1.0, "all": 1.0},
                  "tpe": {"15": 2.0, "25": 2.0, "all": 2.0}},
    }
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    out = _example("regret_tables.py", str(path))
    assert "| p | **0.123** / 0.50 | 0.200 / 0.25 |" in out
    assert "| p | **0.300** / 0.50 | – |" in out
    assert "| tpe | 2.00 | 2.00 | 2.00 |" in out
    bad = _example_fails("regret_tables.py", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and "cannot read" in bad.stderr
