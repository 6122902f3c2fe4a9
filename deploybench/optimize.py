"""``optimize_deployment``: find the best feasible deployment configuration.

A thin driver around ``optuna.Study.optimize`` and :class:`DeploymentObjective`:
resolves the sampler by name, opens (or resumes) the study in an Optuna storage
(default: the embedded SQLite file ``./deploybench.db``), runs the remaining budget with a
progress bar and returns the best feasible configuration, or ``None`` with a clear
message when no measured configuration met every limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import optuna

from deploybench.deployment.objective import DeploymentCrash, DeploymentObjective, ProfileFn
from deploybench.deployment.scenarios import DEFAULT_CPU_SCENARIO, Scenario, get_scenario
from deploybench.deployment.space import DeploymentSpace
from deploybench.profiling import runner as _runner
from deploybench.profiling._types import ProfileSettings
from deploybench.samplers import default_sampler_name, resolve_sampler

DEFAULT_STORAGE = "sqlite:///deploybench.db"
#: Quick CPU defaults used by ``deploybench optimize`` (see docs/deploybench/measurement.md).
QUICK_SETTINGS = ProfileSettings(warmup=5, passes=50, timeout_s=120.0)
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL,
             optuna.trial.TrialState.PRUNED)


class DeploymentSetupError(ValueError):
    """Bad input to :func:`optimize_deployment` (detected before any measurement)."""


@dataclasses.dataclass
class DeploymentResult:
    """Outcome of :func:`optimize_deployment`.

    Attributes:
        study: The Optuna study (all trials, user attrs, constraints).
        scenario: The scenario with the caps actually used.
        found: Whether a feasible configuration was measured.
        best_trial: The best feasible trial, or None.
        best_config: Its configuration (model, backend, precision, batch_size, threads).
        objective_value: Its accuracy or throughput.
        metrics: Its measurements (latency percentiles, memory, device, accuracy source...).
        counts: Trials by outcome: ``feasible``, ``infeasible``, ``aborted``, ``crashed``.
        message: One human-readable line describing the outcome.
    """

    study: optuna.Study
    scenario: Scenario
    found: bool
    best_trial: optuna.trial.FrozenTrial | None
    best_config: dict[str, Any] | None
    objective_value: float | None
    metrics: dict[str, Any]
    counts: dict[str, int]
    message: str


def normalize_storage(storage: str | optuna.storages.BaseStorage | None) -> Any:
    """Default SQLite file, a plain file path (``x.db`` -> ``sqlite:///x.db``) or a URL."""
    if storage is None:
        return DEFAULT_STORAGE
    if isinstance(storage, str) and "://" not in storage:
        if storage.endswith((".log", ".jsonl")):
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(storage))
        return f"sqlite:///{storage}"
    return storage


def best_feasible(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The COMPLETE trial with ``feasible`` True and the best value (None if none)."""
    trials = [
        t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("feasible") is True and t.value is not None
    ]
    if not trials:
        return None
    sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
    return max(trials, key=lambda t: (sign * float(t.value or 0.0), -t.number))


def outcome_counts(study: optuna.Study) -> dict[str, int]:
    """Finished trials by outcome."""
    counts = {"feasible": 0, "infeasible": 0, "aborted": 0, "crashed": 0}
    for t in study.get_trials(deepcopy=False, states=_FINISHED):
        if t.state != optuna.trial.TrialState.COMPLETE:
            counts["crashed"] += 1
        elif t.user_attrs.get("aborted_early"):
            counts["aborted"] += 1
        elif t.user_attrs.get("feasible"):
            counts["feasible"] += 1
        else:
            counts["infeasible"] += 1
    return counts


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(old)


def _check_resume(study: optuna.Study, describe: dict[str, Any]) -> None:
    describe = json.loads(json.dumps(describe))  # as stored: tuples become lists
    stored = study.user_attrs.get("deploybench")
    if stored is None:
        study.set_user_attr("deploybench", describe)
        return
    for key in ("scenario", "limits", "space", "device"):
        if stored.get(key) != describe.get(key):
            raise DeploymentSetupError(
                f"study {study.study_name!r} was created with a different {key} "
                f"({stored.get(key)!r} vs {describe.get(key)!r}); use another study name"
            )


def _progress_callback(bar: Any) -> Any:
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        best = best_feasible(study)
        status = "crash" if trial.state != optuna.trial.TrialState.COMPLETE else (
            "aborted" if trial.user_attrs.get("aborted_early") else
            ("feasible" if trial.user_attrs.get("feasible") else "infeasible"))
        bar.set_postfix_str(
            f"last={trial.user_attrs.get('config_key', '?')} {status}; best="
            + (f"{best.value:.4g} ({best.user_attrs.get('config_key')})" if best else "none"),
            refresh=False,
        )
        bar.update(1)

    return callback


def optimize_deployment(
    constraints: Mapping[str, float] | None = None,
    budget: int = 25,
    scenario: str | Scenario = DEFAULT_CPU_SCENARIO,
    models: Sequence[str] | None = None,
    data_dir: str | None = None,
    sampler: str | optuna.samplers.BaseSampler | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    settings: ProfileSettings | None = None,
    progress: bool = True,
    *,
    space: DeploymentSpace | None = None,
    profile_fn: ProfileFn | None = None,
) -> tuple[dict[str, Any] | None, DeploymentResult]:
    """Search the deployment space for the best configuration within the limits.

    Args:
        constraints: Cap overrides, e.g. ``{"latency_p95_ms": 20, "memory_peak_mb": 512}``
            (keys: the scenario's ``latency_p95_ms``/``latency_p99_ms`` and
            ``memory_peak_mb``).
        budget: Total number of trials in the study, existing ones included.
        scenario: Scenario name or object (default ``cpu_edge``).
        models: Restrict the model choices (default: all registered models).
        data_dir: ImageNette-layout dataset for measured accuracy (needs weights on disk).
        sampler: Sampler name for :func:`deploybench.samplers.resolve_sampler` or an
            instance (default: ``tba_hybrid`` when ``optuna_tba`` is installed, else TPE).
        storage: Optuna storage URL or object, or a file path (default ``./deploybench.db``).
        study_name: Default ``deploybench-<scenario>``; an existing study is resumed.
        seed: Sampler seed (and the seed of random weights / inputs when ``settings`` is
            not given).
        settings: Measurement settings (default: warm-up 5, 50 timed passes, 120 s timeout,
            worker memory safety limit half of physical memory).
        progress: Show a tqdm progress bar with the current best.
        space: A full :class:`DeploymentSpace` (overrides ``models``).
        profile_fn: Measurement function (default :func:`deploybench.profiling.profile`).

    Returns:
        ``(best_config, result)``; ``best_config`` is None when nothing feasible was found.

    Raises:
        DeploymentSetupError: (a ``ValueError``) bad budget, limits, scenario, model names,
            dataset, sampler name, a resumed study created with a different scenario,
            limits or space, or a CUDA scenario measured by the live profiler where no
            CUDA device is visible (checked in a subprocess before any trial).
    """
    try:
        study, objective, remaining = _setup(
            constraints, budget, scenario, models, data_dir, sampler, storage, study_name, seed,
            settings, space, profile_fn,
        )
    except (ValueError, KeyError) as exc:
        if isinstance(exc, DeploymentSetupError):
            raise
        raise DeploymentSetupError(str(exc.args[0]) if exc.args else str(exc)) from exc
    from tqdm.auto import tqdm

    with _quiet_optuna(), tqdm(
        total=budget, initial=budget - remaining, disable=not progress, desc=study.study_name,
        unit="trial",
    ) as bar:
        study.optimize(
            objective, n_trials=remaining, catch=(DeploymentCrash,),
            callbacks=[_progress_callback(bar)],
        )
    return _result(study, objective.scenario)


def _setup(
    constraints: Mapping[str, float] | None,
    budget: int,
    scenario: str | Scenario,
    models: Sequence[str] | None,
    data_dir: str | None,
    sampler: str | optuna.samplers.BaseSampler | None,
    storage: str | optuna.storages.BaseStorage | None,
    study_name: str | None,
    seed: int | None,
    settings: ProfileSettings | None,
    space: DeploymentSpace | None,
    profile_fn: ProfileFn | None,
) -> tuple[optuna.Study, DeploymentObjective, int]:
    """Validate everything and open the study; returns it with the trials still to run."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be a positive integer, got {budget!r}")
    base = get_scenario(scenario) if isinstance(scenario, str) else scenario
    space = space or DeploymentSpace.create(models=models)
    if settings is None:
        import psutil

        settings = dataclasses.replace(
            QUICK_SETTINGS, seed=seed or 0,
            memory_limit_mb=psutil.virtual_memory().total / 2**20 / 2,  # protect the host
        )
    if data_dir is not None:
        from deploybench.profiling.accuracy import resolve_split

        try:
            resolve_split(data_dir)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
        settings = dataclasses.replace(settings, data_dir=data_dir)
    prune = False
    if sampler is None or isinstance(sampler, str):
        spec = resolve_sampler(sampler or default_sampler_name())
        try:
            sampler_obj = spec.build(seed)
        except ValueError as exc:  # a sampler bug, not bad user input
            raise RuntimeError(f"sampler {spec.name!r} failed to build: {exc}") from exc
        prune = spec.prune_crashes
    else:
        sampler_obj = sampler
    objective = DeploymentObjective(
        base, space=space, settings=settings, limits=dict(constraints or {}),
        profile_fn=profile_fn, prune_crashes=prune,
    )
    if profile_fn is None and objective.settings.device == "cuda" and not _runner.cuda_available():
        raise ValueError(
            f"scenario {objective.scenario.name!r} measures on cuda, but no CUDA device is "
            "visible to torch here (every float configuration would crash as unsupported); "
            "use a CPU scenario (cpu_edge, cpu_server) or device 'cpu' (--device cpu)"
        )
    name = study_name or f"deploybench-{objective.scenario.name}"
    study = optuna.create_study(
        storage=normalize_storage(storage), study_name=name, sampler=sampler_obj,
        direction="maximize", load_if_exists=True,
    )
    _check_resume(study, objective.describe())
    done = len(study.get_trials(deepcopy=False, states=_FINISHED))
    return study, objective, max(0, budget - done)


def _result(
    study: optuna.Study, scenario: Scenario
) -> tuple[dict[str, Any] | None, DeploymentResult]:
    best = best_feasible(study)
    counts = outcome_counts(study)
    total = sum(counts.values())
    if best is None:
        message = (
            f"no feasible configuration found in {total} trials "
            f"({counts['crashed']} crashed, {counts['aborted']} aborted, "
            f"{counts['infeasible']} over a limit); limits: {scenario.limits()}"
        )
        return None, DeploymentResult(study, scenario, False, None, None, None, {}, counts, message)
    config = {
        "model": best.params["model"], "backend": best.params["backend"],
        "precision": best.params["precision"], "batch_size": best.params["batch_size"],
        "threads": best.params.get("threads"),
    }
    message = (
        f"best feasible {scenario.objective} {best.value:.4g} (trial {best.number}) of {total} "
        f"trials: {best.user_attrs.get('config_key')}"
    )
    result = DeploymentResult(
        study, scenario, True, best, config, best.value, dict(best.user_attrs), counts, message
    )
    return config, result
