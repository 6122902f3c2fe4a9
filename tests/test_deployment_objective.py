"""DeploymentObjective, scenarios, space and model registry (fake profiler, no torch)."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from deploybench import DeploymentObjective
from deploybench._constraints import LEGACY_KEY
from deploybench.deployment.models import (
    BUILTIN_MODELS,
    ModelRegistry,
    build_resnet18,
    get_model_spec,
    register_model,
)
from deploybench.deployment.objective import DeploymentCrash
from deploybench.deployment.scenarios import SCENARIOS, get_scenario
from deploybench.deployment.space import DeploymentSpace, default_threads
from deploybench.profiling import DeployConfig, ProfileResult, ProfileSettings


class FakeProfiler:
    """Returns a scripted result per model; records what it was asked."""

    def __init__(self, by_model: dict[str, dict[str, Any]]) -> None:
        self.by_model = by_model
        self.calls: list[tuple[DeployConfig, ProfileSettings]] = []

    def __call__(self, config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        self.calls.append((config, settings))
        return ProfileResult(config=config, **self.by_model[config.model])


OK = {"status": "ok", "latency_p95_ms": 30.0, "latency_p99_ms": 35.0, "peak_memory_mb": 150.0,
      "throughput_ips": 33.0, "accuracy": 0.7, "accuracy_source": "model_card",
      "device_executed": "cpu", "passes_timed": 50}


def _space(models: tuple[str, ...] = ("resnet18",), backends: tuple[str, ...] = ("onnxruntime",)
           ) -> DeploymentSpace:
    return DeploymentSpace.create(models=models, backends=backends, precisions=("int8",),
                                  batch_sizes=(2,), threads=(1,))


def _run(objective: DeploymentObjective) -> optuna.trial.FrozenTrial:
    study = optuna.create_study(direction=objective.direction)
    study.optimize(objective, n_trials=1, catch=(DeploymentCrash,))
    return study.trials[0]


def test_feasible_trial_reports_relative_violations_and_attrs() -> None:
    fake = FakeProfiler({"resnet18": OK})
    obj = DeploymentObjective("cpu_edge", space=_space(), profile_fn=fake,
                              limits={"latency_p95_ms": 60.0, "memory_peak_mb": 300.0})
    t = _run(obj)
    assert t.state == optuna.trial.TrialState.COMPLETE
    assert t.value == pytest.approx(0.7)
    assert t.params == {"model": "resnet18", "backend": "onnxruntime", "precision": "int8",
                        "batch_size": 2, "threads": 1}
    assert t.system_attrs["constraints:latency_p95_ms"] == pytest.approx(30 / 60 - 1)
    assert t.system_attrs["constraints:memory_peak_mb"] == pytest.approx(150 / 300 - 1)
    assert t.system_attrs[LEGACY_KEY] == pytest.approx([-0.5, -0.5])
    assert t.user_attrs["feasible"] is True
    assert t.user_attrs["device_executed"] == "cpu"
    assert t.user_attrs["accuracy_source"] == "model_card"
    assert t.user_attrs["limits"] == {"latency_p95_ms": 60.0, "memory_peak_mb": 300.0}
    _, settings = fake.calls[0]
    assert settings.latency_cap_ms == 60.0 and settings.device == "cpu"


def test_infeasible_and_throughput_objective() -> None:
    fake = FakeProfiler({"resnet18": OK})
    obj = DeploymentObjective("cpu_server", space=_space(), profile_fn=fake,
                              limits={"latency_p99_ms": 20.0})
    t = _run(obj)
    assert t.value == pytest.approx(33.0)  # throughput
    assert t.system_attrs["constraints:latency_p99_ms"] == pytest.approx(35 / 20 - 1)
    assert t.user_attrs["feasible"] is False


@pytest.mark.parametrize("prune", [False, True])
def test_crash_fails_the_trial_with_kind(prune: bool) -> None:
    crash = {"status": "crash", "crash_kind": "oom", "crash_message": "RSS 9000 MB exceeded"}
    obj = DeploymentObjective("cpu_edge", space=_space(), prune_crashes=prune,
                              profile_fn=FakeProfiler({"resnet18": crash}))
    t = _run(obj)
    expected = optuna.trial.TrialState.PRUNED if prune else optuna.trial.TrialState.FAIL
    assert t.state == expected
    assert t.user_attrs["crash_kind"] == "oom"
    assert t.user_attrs["feasible"] is False
    assert "constraints:latency_p95_ms" not in t.system_attrs
    if not prune:
        with pytest.raises(DeploymentCrash, match=r"^oom: RSS 9000 MB"):
            obj(optuna.create_study().ask())


def test_aborted_trial_completes_infeasible_from_warmup_latency() -> None:
    aborted = {"status": "aborted", "aborted_early": True, "warmup_latency_ms": 600.0,
               "abort_threshold_ms": 180.0, "peak_memory_mb": 120.0, "accuracy": 0.76,
               "accuracy_source": "model_card"}
    obj = DeploymentObjective("cpu_edge", space=_space(), limits={"latency_p95_ms": 60.0},
                              profile_fn=FakeProfiler({"resnet18": aborted}))
    t = _run(obj)
    assert t.state == optuna.trial.TrialState.COMPLETE
    assert t.value == pytest.approx(0.76)
    assert t.system_attrs["constraints:latency_p95_ms"] == pytest.approx(600 / 60 - 1)
    assert t.user_attrs["aborted_early"] is True and t.user_attrs["feasible"] is False
    thr = DeploymentObjective("cpu_server", space=_space(),
                              profile_fn=FakeProfiler({"resnet18": aborted}))
    assert _run(thr).value == pytest.approx(2 * 1000 / 600.0)


def test_threads_only_for_threaded_backends() -> None:
    space = DeploymentSpace.create(models=("resnet18",), threads=(1, 2))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: dict[str, set[Any]] = {}
    for _ in range(60):
        trial = study.ask()
        cfg = space.suggest(trial)
        seen.setdefault(cfg.backend, set()).add(cfg.threads)
        study.tell(trial, 0.0)
    assert seen["torch_compile"] == {None}
    assert seen["pytorch_eager"] == {1, 2} and seen["onnxruntime"] == {1, 2}
    assert space.size() == 1 * 3 * 6 * (2 + 1 + 2)


def test_threads_on_cuda_only_where_the_configuration_runs_on_the_cpu() -> None:
    # float configurations on the GPU measure the same at any CPU thread count (an H200
    # run measured efficientnet_b0 fp16 at threads 1 and 4: 8.3 and 9.7 ms, the same
    # configuration twice); int8 runs on the CPU, where threads matter
    space = DeploymentSpace.create(models=("resnet18",), threads=(1, 2))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen: dict[tuple[str, str], set[Any]] = {}
    for _ in range(200):
        trial = study.ask()
        cfg = space.suggest(trial, "cuda")
        seen.setdefault((cfg.backend, cfg.precision), set()).add(cfg.threads)
        study.tell(trial, 0.0)
    for (backend, precision), threads in seen.items():
        want = {1, 2} if backend != "torch_compile" and precision == "int8" else {None}
        assert threads == want, (backend, precision, threads)
    # per model and batch: 7 backend x precision pairs without threads, 2 int8 pairs x 2
    assert space.size("cuda") == 1 * 6 * (7 + 2 * 2)
    assert space.size("cpu") == space.size() == 1 * 6 * 3 * (2 + 1 + 2)


def test_live_objective_passes_its_device_to_the_space() -> None:
    calls: list[DeployConfig] = []

    def fake(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        calls.append(config)
        return ProfileResult(config=config, status="crash", crash_kind="unsupported",
                             crash_message="fake")

    space = DeploymentSpace.create(models=("resnet18",), backends=("pytorch_eager",),
                                   precisions=("fp16",), batch_sizes=(1,), threads=(1, 2))
    # the device comes from the scenario: edge_tight is a GPU scenario, cpu_edge a CPU one
    for scenario, want in (("edge_tight", None), ("cpu_edge", {1, 2})):
        calls.clear()
        obj = DeploymentObjective(scenario, space=space, profile_fn=fake)
        study = optuna.create_study(direction="maximize")
        study.optimize(obj, n_trials=4, catch=(DeploymentCrash,))
        assert len(calls) == 4
        if want is None:
            assert all(c.threads is None for c in calls)
            assert all("threads" not in t.params for t in study.trials)
        else:
            assert all(c.threads in want for c in calls)


def test_space_validation() -> None:
    assert default_threads(2) == (1, 2) and default_threads(6) == (1, 2, 4)
    with pytest.raises(KeyError, match="unknown model"):
        DeploymentSpace.create(models=("resnet18", "alexnet"))
    with pytest.raises(ValueError, match="backends"):
        DeploymentSpace.create(models=("resnet18",), backends=("tensorrt",))
    with pytest.raises(ValueError, match="batch_sizes"):
        DeploymentSpace.create(models=("resnet18",), batch_sizes=(0,))


def test_scenarios_and_limit_overrides() -> None:
    edge = get_scenario("edge_tight")
    assert edge.limits() == {"latency_p95_ms": 20.0, "memory_peak_mb": 512.0}
    assert get_scenario("server_throughput").limits() == {"latency_p99_ms": 100.0,
                                                          "memory_peak_mb": 4096.0}
    assert get_scenario("ultra_low_budget").limits() == {"latency_p95_ms": 30.0,
                                                         "memory_peak_mb": 1024.0}
    assert {"cpu_edge", "cpu_server"} <= set(SCENARIOS)
    assert edge.with_limits({"latency_p95_ms": 7}).latency_cap_ms == 7.0
    with pytest.raises(ValueError, match="unknown limit"):
        edge.with_limits({"latency_p99_ms": 7})
    with pytest.raises(ValueError, match="positive"):
        edge.with_limits(memory_peak_mb=-1)
    with pytest.raises(ValueError, match="unknown scenario"):
        get_scenario("mars")


def test_builtin_registry_and_user_models() -> None:
    assert BUILTIN_MODELS == ("resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0",
                              "vit_ti16", "vit_b16")
    vit = get_model_spec("vit_ti16")
    assert vit.accuracy_source == "model_card_external" and vit.model_card_accuracy == 0.722
    reg = ModelRegistry()
    spec = register_model("my_net", build_resnet18, model_card_accuracy=0.5, source="paper",
                          registry=reg)
    assert spec.builder == "deploybench.deployment.models:build_resnet18"
    assert reg.get("my_net") == spec and "my_net" not in ModelRegistry().names()
    with pytest.raises(ValueError, match="already registered"):
        register_model("my_net", build_resnet18, model_card_accuracy=0.5, source="x", registry=reg)
    with pytest.raises(ValueError, match="module-level"):
        register_model("lam", lambda: None, model_card_accuracy=0.5, source="x", registry=reg)
    with pytest.raises(ValueError, match="fraction"):
        register_model("pct", build_resnet18, model_card_accuracy=76.1, source="x", registry=reg)
    with pytest.raises(KeyError, match="unknown model"):
        reg.get("_test_tiny")  # hook models need DEPLOYBENCH_TEST_HOOKS=1
