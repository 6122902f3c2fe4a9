"""Definitions, oracles, crash regions and Monte-Carlo rates of the synthetic problems."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from scipy import optimize

from deploybench.problems import (
    Problem,
    ProblemCrash,
    ProblemRegistry,
    SyntheticProblem,
    get_problem,
    list_problems,
    oom_grid,
)

BUILTINS = (
    "crashy_branin",
    "hier_rosenbrock",
    "family_band",
    "oom_grid",
    "conditional_pipeline",
    "deploy_like",
)
MC_N = 20_000
# 4 binomial standard deviations at p = 0.5 and n = 20 000 is 0.014.
MC_TOL = 0.015


def _problem(name: str, **kwargs: object) -> SyntheticProblem:
    problem = get_problem(name, **kwargs)
    assert isinstance(problem, SyntheticProblem)
    return problem


# ----------------------------------------------------------------------------- registry


def test_registry_lists_builtins_and_rejects_unknown() -> None:
    names = list_problems()
    for name in BUILTINS:
        assert name in names
        assert get_problem(name).name == name
    with pytest.raises(KeyError, match="crashy_branin"):
        get_problem("no_such_problem")
    assert "replay:<...>" in names  # dispatched lazily to deploybench.tables


def test_registry_prefix_dispatch_and_duplicates() -> None:
    registry = ProblemRegistry()
    seen: list[tuple[str, dict[str, object]]] = []

    def factory(name: str, **kwargs: object) -> Problem:
        seen.append((name, kwargs))
        return get_problem("crashy_branin")

    registry.register("replay:", factory)
    registry.register("branin", lambda **kw: get_problem("crashy_branin", **kw))
    assert registry.get("replay:edge:tight", seed=3).name == "crashy_branin"
    assert seen == [("replay:edge:tight", {"seed": 3})]
    assert "replay:<...>" in registry.names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("branin", lambda **kw: get_problem("oom_grid"))
    with pytest.raises(KeyError):
        registry.get("replay_without_colon")


def test_seed_is_validated() -> None:
    with pytest.raises(ValueError, match="seed"):
        get_problem("crashy_branin", seed=-1)
    with pytest.raises(ValueError, match="noise_scale"):
        get_problem("hier_rosenbrock", noise_scale=-1.0)


# ----------------------------------------------------------------------------- crashy branin


def test_crashy_branin_known_points() -> None:
    p = _problem("crashy_branin")
    at_min = p.outcome({"mode": "A", "x1": math.pi, "x2": 2.275, "resolution": 1})
    assert at_min.feasible
    assert at_min.value == pytest.approx(-(0.397887 + 0.1), abs=1e-4)
    shifted = p.outcome({"mode": "B", "x1": math.pi - 2.0, "x2": 2.275, "resolution": 3})
    assert shifted.value == pytest.approx(-(0.397887 + 0.3), abs=1e-4)
    assert p.outcome({"mode": "C", "x1": 8.5, "x2": 1.0, "resolution": 1}).crashed
    assert not p.outcome({"mode": "C", "x1": 7.9, "x2": 1.0, "resolution": 1}).crashed
    assert p.outcome({"mode": "A", "x1": 1.0, "x2": 12.5, "resolution": 8}).crashed
    not_crashed = p.outcome({"mode": "A", "x1": 1.0, "x2": 12.5, "resolution": 7})
    assert not not_crashed.crashed and not not_crashed.feasible
    # normalised constraints keep the sign of the raw ones
    c = p.outcome({"mode": "A", "x1": 10.0, "x2": 8.0, "resolution": 1}).constraints
    assert c["sum_cap"] == pytest.approx((10 + 8 - 16) / 16)
    assert c["slope_cap"] == pytest.approx((-10 + 16 - 10) / 10)
    assert p.truth({"mode": "C", "x1": 9.0, "x2": 1.0, "resolution": 1}) is None


def test_crashy_branin_oracle_and_uniform_rates() -> None:
    p = _problem("crashy_branin")
    assert p.oracle() == pytest.approx(-0.4979, abs=2e-4)
    stats = p.uniform_stats(MC_N, seed=1)
    assert stats.crash_fraction == pytest.approx(0.207, abs=MC_TOL)
    assert stats.infeasible_fraction == pytest.approx(0.451, abs=MC_TOL)
    assert stats.best_feasible is not None and stats.best_feasible <= p.oracle() + 1e-9


# ----------------------------------------------------------------------------- rosenbrock


def test_hier_rosenbrock_noise_is_seeded_and_truth_is_noise_free() -> None:
    params = {"mode": "extended", "x1": 0.5, "x2": 0.2, "x3": -0.1, "x4": 0.3, "n_iters": 1}

    def observe(seed: int) -> float:
        study = optuna.create_study(direction="maximize")
        study.enqueue_trial(params)
        study.optimize(get_problem("hier_rosenbrock", seed=seed), n_trials=1)
        return float(study.trials[0].value)  # type: ignore[arg-type]

    truth = -float(optimize.rosen(np.array([0.5, 0.2, -0.1, 0.3])))
    p = _problem("hier_rosenbrock")
    assert p.truth(params) == pytest.approx(truth)
    a, b, c = observe(0), observe(0), observe(1)
    assert a == b  # same seed and trial number -> same noise
    assert a != c
    assert a != pytest.approx(truth, abs=1e-6)  # the noise is real
    noisy = [observe(s) - truth for s in range(40)]
    assert 2.0 < float(np.std(noisy)) < 9.0  # noise_scale 5 at n_iters = 1


def test_hier_rosenbrock_space_crash_and_oracle() -> None:
    p = _problem("hier_rosenbrock")
    full = {f"x{i}": 1.0 for i in range(1, 6)}
    assert p.outcome({"mode": "full", **full, "x1": 3.5, "x5": 3.5, "n_iters": 5}).crashed
    assert not p.outcome({"mode": "full", **full, "x1": 3.5, "x5": 2.5, "n_iters": 5}).crashed
    assert p.outcome({"mode": "full", **full, "n_iters": 3}).value == pytest.approx(0.0)
    infeasible = p.outcome({"mode": "simple", "x1": 3.0, "x2": 3.0, "n_iters": 1})
    assert infeasible.constraints["sum_cap"] == pytest.approx(0.2)
    assert p.oracle() == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(0)
    keys = set()
    for _ in range(60):
        params, _ = p.sample_uniform(rng)
        keys.add(frozenset(params))
    assert len(keys) == 3  # simple / extended / full parameter sets
    median = p.uniform_stats().median_feasible
    assert median is not None and median < p.reference_value() < p.oracle()


# ----------------------------------------------------------------------------- new problems


@pytest.mark.parametrize("name", ["family_band", "oom_grid", "conditional_pipeline"])
def test_new_problems_waste_between_20_and_60_percent(name: str) -> None:
    stats = _problem(name).uniform_stats(MC_N, seed=2)
    assert 0.20 <= stats.waste_fraction <= 0.60, stats
    assert stats.crash_fraction > 0.02 and stats.infeasible_fraction > 0.02, stats


def test_deploy_like_waste_matches_documented_rate() -> None:
    stats = _problem("deploy_like").uniform_stats(MC_N, seed=3)
    assert stats.crash_fraction == pytest.approx(0.29, abs=0.02)
    assert stats.infeasible_fraction == pytest.approx(0.47, abs=0.02)


@pytest.mark.parametrize("name", BUILTINS)
def test_oracle_bounds_the_uniform_sample(name: str) -> None:
    p = _problem(name)
    stats = p.uniform_stats(5_000, seed=4)
    assert stats.best_feasible is not None
    sign = 1.0 if p.direction == "maximize" else -1.0
    assert sign * stats.best_feasible <= sign * p.oracle() + 1e-9
    assert sign * (p.oracle() - p.reference_value()) > 0


def test_family_band_definition() -> None:
    p = _problem("family_band")
    assert p.oracle() == pytest.approx(0.92, abs=1e-6)
    best = p.outcome({"family": "xl", "clock": 0.70, "width": 0.70})
    assert best.feasible and best.value == pytest.approx(0.92)
    assert not p.outcome({"family": "xl", "clock": 0.75, "width": 0.70}).feasible
    assert p.outcome({"family": "xl", "clock": 0.70, "width": 0.76}).crashed
    assert p.outcome({"family": "tiny", "clock": 0.99, "width": 0.99}).feasible


def test_oom_grid_definition_and_exact_oracle() -> None:
    p = _problem("oom_grid")
    assert p.discrete
    huge = {"batch_size": 256, "width": 1024, "depth": 24, "seq_len": 1024}
    assert p.outcome(huge).crashed
    small = p.outcome({"batch_size": 1, "width": 16, "depth": 2, "seq_len": 128})
    assert small.feasible
    # a sub-grid evaluated through the trial code path never beats the oracle ...
    best = -math.inf
    for batch in (1, 4, 16, 64, 256):
        for width in range(16, 1025, 48):
            for depth in (2, 12, 24):
                for seq in (128, 512, 1024):
                    config = {"batch_size": batch, "width": width, "depth": depth, "seq_len": seq}
                    out = p.outcome(config)
                    if out.feasible and out.value is not None:
                        best = max(best, out.value)
    assert best <= p.oracle() + 1e-12
    # ... and the oracle is attained by a configuration that the trial code path accepts
    batches = np.arange(1, 257)[:, None]
    widths = np.arange(16, 1025)[None, :]
    found = None
    for depth in range(2, 25, 2):
        for seq in range(128, 1025, 128):
            ok = (
                oom_grid._memory_gb(batches, widths, depth, seq) <= oom_grid.MEMORY_LIMIT_GB
            ) & (oom_grid._step_ms(batches, widths, depth, seq) <= oom_grid.STEP_CAP_MS)
            score = np.where(ok, oom_grid._score(batches, widths, depth, seq), -np.inf)
            i, j = np.unravel_index(int(np.argmax(score)), score.shape)
            if score[i, j] == p.oracle():
                found = {"batch_size": i + 1, "width": j + 16, "depth": depth, "seq_len": seq}
    assert found is not None
    out = p.outcome(found)
    assert out.feasible and out.value == pytest.approx(p.oracle(), abs=1e-12)


def test_conditional_pipeline_branches_and_crashes() -> None:
    p = _problem("conditional_pipeline")
    assert p.outcome({"branch": "linear", "C": 5e-4, "penalty": "l1"}).crashed
    assert p.outcome({"branch": "linear", "C": 5e-4, "penalty": "l2"}).feasible
    assert p.outcome({"branch": "forest", "n_estimators": 900, "max_depth": 25}).crashed
    assert not p.outcome({"branch": "forest", "n_estimators": 500, "max_depth": 20}).feasible
    mlp = {"branch": "mlp", "n_layers": 3, "units_0": 100, "units_1": 100, "units_2": 100}
    assert p.outcome({**mlp, "lr": 0.05}).crashed
    assert p.outcome({**mlp, "units_0": 400, "lr": 1e-3}).crashed
    near = p.outcome({**mlp, "lr": 10**-2.5})
    assert near.feasible and near.value is not None
    assert near.value <= p.oracle() + 1e-12
    assert p.oracle() - near.value < 1e-3
    rng = np.random.default_rng(5)
    keys = {frozenset(p.sample_uniform(rng)[0]) for _ in range(300)}
    assert {"branch", "C", "penalty"} in keys
    assert {"branch", "n_layers", "units_0", "units_1", "lr"} in keys


def test_deploy_like_definition() -> None:
    p = _problem("deploy_like")
    assert p.discrete and p.oracle() == pytest.approx(82.5)
    best = {"model": "convnext_tiny", "backend": "onnxruntime", "precision": "fp32"}
    assert p.outcome({**best, "batch_size": 1, "num_threads": 8}).feasible
    assert not p.outcome({**best, "batch_size": 1, "num_threads": 4}).feasible
    assert p.outcome({**best, "precision": "fp16", "batch_size": 1, "num_threads": 8}).crashed
    compile_int8 = {"model": "resnet18", "backend": "compile", "precision": "int8"}
    assert p.outcome({**compile_int8, "batch_size": 1}).crashed
    rng = np.random.default_rng(0)
    for _ in range(50):
        params, _ = p.sample_uniform(rng)
        assert ("num_threads" in params) == (params["backend"] != "compile")


# ----------------------------------------------------------------------------- Optuna glue


@pytest.mark.parametrize("name", BUILTINS)
def test_problem_runs_in_a_study(name: str) -> None:
    p = get_problem(name, seed=1)
    study = optuna.create_study(
        direction=p.direction, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(p, n_trials=40, catch=(ProblemCrash,))
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.COMPLETE in states
    for trial in study.trials:
        if trial.state == optuna.trial.TrialState.FAIL:
            assert "crash_reason" in trial.user_attrs
        else:
            assert set(trial.constraints) >= set(p.constraint_keys)
            assert trial.system_attrs["constraints"] == [
                trial.constraints[k] for k in p.constraint_keys
            ]
            assert p.feasibility_probability(trial.params) in (0.0, 1.0)


def test_uniform_space_matches_random_sampler() -> None:
    """MC rates from UniformSpace agree with a real RandomSampler study."""
    p = _problem("oom_grid")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(7))
    study.optimize(p, n_trials=600, catch=(ProblemCrash,))
    crashed = np.mean([t.state == optuna.trial.TrialState.FAIL for t in study.trials])
    # binomial sd at p = 0.21, n = 600 is 0.017
    assert crashed == pytest.approx(p.uniform_stats().crash_fraction, abs=0.06)
    log_batch = np.log([t.params["batch_size"] for t in study.trials])
    assert float(np.median(log_batch)) == pytest.approx(math.log(16), abs=0.5)
