"""optimize_deployment and the ``deploybench optimize`` CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import optuna
import pytest

from deploybench import optimize_deployment
from deploybench.cli import main
from deploybench.optimize import DeploymentSetupError
from deploybench.profiling import DeployConfig, ProfileResult, ProfileSettings

_LATENCY = {"mobilenet_v2": 20.0, "resnet18": 45.0, "resnet50": 150.0}
_ACCURACY = {"mobilenet_v2": 0.72, "resnet18": 0.70, "resnet50": 0.76}


def fake_profile(config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
    """Deterministic stand-in: latency grows with batch size; fp16 'crashes'."""
    if config.precision == "fp16":
        return ProfileResult(config, "crash", crash_kind="unsupported", crash_message="no Half")
    scale = (1 + 0.25 * (config.batch_size - 1)) / (1.5 if config.precision == "int8" else 1)
    lat = _LATENCY[config.model] * scale
    return ProfileResult(
        config, "ok", latency_p95_ms=lat, latency_p99_ms=lat * 1.1, peak_memory_mb=100.0,
        throughput_ips=config.batch_size * 1000.0 / lat, accuracy=_ACCURACY[config.model],
        accuracy_source="model_card", device_executed="cpu",
    )


def _optimize(tmp_path: os.PathLike[str], **kw: object) -> tuple[object, object]:
    args: dict[str, object] = {
        "budget": 30, "models": ["mobilenet_v2", "resnet18", "resnet50"], "sampler": "random",
        "seed": 0, "storage": os.path.join(tmp_path, "s.db"), "progress": False,
        "profile_fn": fake_profile,
    }
    args.update(kw)
    return optimize_deployment(**args)  # type: ignore[arg-type]


def test_finds_best_feasible(tmp_path: os.PathLike[str]) -> None:
    best, result = _optimize(tmp_path, constraints={"latency_p95_ms": 50.0},
                             storage=optuna.storages.InMemoryStorage())
    assert result.found  # type: ignore[attr-defined]
    trials = result.study.trials  # type: ignore[attr-defined]
    feasible = [t for t in trials if t.user_attrs.get("feasible")]
    assert feasible and all(t.user_attrs["latency_p95_ms"] <= 50.0 for t in feasible)
    assert result.objective_value == max(t.value for t in feasible)  # type: ignore[attr-defined]
    assert isinstance(best, dict) and set(best) == {"model", "backend", "precision", "batch_size",
                                              "threads"}
    counts = result.counts  # type: ignore[attr-defined]
    assert sum(counts.values()) == 30 and counts["crashed"] > 0


def test_no_feasible_outcome_is_clear(tmp_path: os.PathLike[str]) -> None:
    best, result = _optimize(tmp_path, budget=5, constraints={"latency_p95_ms": 1.0},
                             storage=optuna.storages.InMemoryStorage())
    assert best is None and not result.found  # type: ignore[attr-defined]
    assert result.message.startswith("no feasible configuration found in 5 trials")  # type: ignore[attr-defined]


def test_resume_counts_existing_trials(tmp_path: os.PathLike[str]) -> None:
    _optimize(tmp_path, budget=4, study_name="s")
    _, result = _optimize(tmp_path, budget=6, study_name="s")
    assert len(result.study.trials) == 6  # type: ignore[attr-defined]
    _, again = _optimize(tmp_path, budget=3, study_name="s")
    assert len(again.study.trials) == 6  # type: ignore[attr-defined]
    with pytest.raises(DeploymentSetupError, match="different limits"):
        _optimize(tmp_path, budget=7, study_name="s", constraints={"memory_peak_mb": 64.0})


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"budget": 0}, "budget"),
        ({"models": ["alexnet"]}, "unknown model"),
        ({"constraints": {"latency_p95_ms": -3.0}}, "positive"),
        ({"constraints": {"flops": 3.0}}, "unknown limit"),
        ({"scenario": "mars"}, "unknown scenario"),
        ({"sampler": "nope"}, "unknown sampler"),
        ({"data_dir": "/nonexistent/imagenette"}, "does not exist"),
    ],
)
def test_bad_input_is_a_setup_error(tmp_path: os.PathLike[str], kw: dict[str, object],
                                    match: str) -> None:
    with pytest.raises(DeploymentSetupError, match=match):
        _optimize(tmp_path, **kw)


@pytest.mark.parametrize(
    "argv",
    [
        ["--models", "alexnet"],
        ["--latency-ms", "-5"],
        ["--memory-mb", "0"],
        ["--data-dir", "/nonexistent/imagenette"],
        ["--backends", "tensorrt"],
        ["--budget", "zero"],
        ["--sampler", "nope"],
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: os.PathLike[str], argv: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    storage = os.path.join(tmp_path, "cli.db")
    try:
        code = main(["optimize", "--storage", storage, "--no-progress", *argv])
    except SystemExit as exc:  # argparse-level errors
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0], err


def test_gpu_scenario_without_cuda_fails_before_measuring(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import deploybench.profiling.runner as runner

    monkeypatch.setattr(runner, "cuda_available", lambda timeout_s=120.0: False)
    storage = os.path.join(tmp_path, "gpu.db")
    with pytest.raises(DeploymentSetupError, match="no CUDA device"):
        _optimize(tmp_path, scenario="edge_tight", profile_fn=None, storage=storage)
    code = main(["optimize", "--scenario", "edge_tight", "--storage", storage, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cpu_edge" in err[0], err
    # nothing was measured, and the same request on the CPU is accepted
    assert not optuna.get_all_study_summaries(f"sqlite:///{storage}")
    # an injected profiler (replay, tests) is not the live one: no check
    _, result = _optimize(tmp_path, scenario="edge_tight", budget=3)
    assert len(result.study.trials) == 3  # type: ignore[attr-defined]


@pytest.mark.torch
def test_cuda_probe_agrees_with_torch() -> None:
    torch = pytest.importorskip("torch")
    import deploybench.profiling.runner as runner

    assert runner.cuda_available() is bool(torch.cuda.is_available())


@pytest.mark.torch
@pytest.mark.slow
def test_cli_end_to_end_real_measurements(tmp_path: os.PathLike[str]) -> None:
    out = os.path.join(tmp_path, "figs")
    storage = os.path.join(tmp_path, "e2e.db")
    proc = subprocess.run(
        [sys.executable, "-m", "deploybench", "optimize", "--budget", "2", "--models", "resnet18",
         "--passes", "5", "--warmup", "2", "--storage", storage, "--output-dir", out,
         "--backends", "pytorch_eager,onnxruntime", "--seed", "1", "--no-progress",
         "--timeout-s", "240"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "scenario cpu_edge" in proc.stdout
    assert os.path.exists(os.path.join(out, "history.png"))
    assert os.path.exists(os.path.join(out, "feasibility.png"))
    study = optuna.load_study(study_name="deploybench-cpu_edge", storage=f"sqlite:///{storage}")
    assert len(study.trials) == 2
    for t in study.trials:
        assert t.params["model"] == "resnet18"
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert t.user_attrs["peak_memory_mb"] > 0
            assert t.user_attrs["accuracy_source"] == "model_card"
        else:
            assert t.user_attrs["crash_kind"] in ("oom", "segfault", "timeout", "unsupported",
                                                  "error")
