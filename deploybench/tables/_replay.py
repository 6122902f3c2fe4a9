"""Replay a recorded table as an Optuna objective (:class:`TableObjective`).

Each evaluation of a configuration draws one of its recorded repeats with a numpy
generator seeded by ``(seed, trial.number)``, so a study is reproducible for a given
seed while still seeing the recorded measurement noise. Scenario limits are applied
at replay time, so one table serves every scenario.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from deploybench._constraints import report_constraints
from deploybench.problems._base import Problem, ProblemCrash
from deploybench.profiling._types import DeployConfig
from deploybench.tables._format import ConfigRecord, RepeatSummary, Table, load_table
from deploybench.tables._space import THREADLESS_BACKENDS, Scenario, get_scenario, limit_field

#: A configuration counts as feasible for the oracle when at least this fraction of its
#: recorded repeats meets every limit (i.e. its typical, median-like behaviour is
#: feasible). Throughput truth is a median too, so both use the same notion.
ORACLE_FEASIBLE_FRACTION = 0.5
TABLE_SUFFIX = ".jsonl.gz"
NOT_RECORDED = "not_recorded"


class ReplayCrash(ProblemCrash):
    """A recorded crash replayed (or a configuration the table does not hold).

    Attributes:
        kind: The crash kind (``oom``, ``segfault``, ``timeout``, ``unsupported``,
            ``error``, or ``not_recorded``).
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {message}" if message else kind)


def shipped_tables() -> dict[str, Path]:
    """Tables shipped in ``deploybench/data`` by name (file name without ``.jsonl.gz``)."""
    root = resources.files("deploybench") / "data"
    out: dict[str, Path] = {}
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.endswith(TABLE_SUFFIX):
                out[entry.name[: -len(TABLE_SUFFIX)]] = Path(str(entry))
    return out


def resolve_table_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A shipped table name (e.g. ``cpu-2core``) or a file path to a table file."""
    text = str(name_or_path)
    shipped = shipped_tables()
    if text in shipped:
        return shipped[text]
    path = Path(text)
    if path.exists():
        return path
    known = ", ".join(sorted(shipped)) or "none"
    raise ValueError(f"no table named or at {text!r} (shipped tables: {known})")


def _is_feasible(measured: Mapping[str, float | None], limits: Mapping[str, float]) -> bool:
    return all(v is not None and v <= limits[k] for k, v in measured.items())


class TableObjective(Problem):
    """An Optuna objective that replays a recorded table under a scenario.

    The search space is the table's recording grid (define-by-run: ``model``,
    ``backend``, ``precision``, ``batch_size`` and ``threads`` only for backends that
    take one). Per evaluation:

    * the table lacks the configuration: :class:`ReplayCrash` of kind ``not_recorded``;
    * the drawn repeat crashed: :class:`ReplayCrash` with the recorded kind and message;
    * the drawn repeat was aborted early: completes with the objective (throughput
      estimated from the warm-up latency), latency violations computed from the
      warm-up latency (infeasible) and user attribute ``aborted_early=True``;
    * otherwise the scenario's relative violations ``measured / cap - 1`` are
      reported with :func:`~deploybench._constraints.report_constraints` and the
      objective (accuracy or throughput, maximised) is returned.

    Args:
        table: A :class:`~deploybench.tables.Table`, a shipped table name or a path.
        scenario: Scenario name or object.
        seed: Seeds the repeat draws (non-negative).
        feasible_fraction: Oracle feasibility threshold, in (0, 1].
        subgrid: Optional restriction of the search space to a sub-grid, e.g.
            ``{"models": ["resnet18"], "batch_sizes": [1, 2, 4]}`` (see
            :meth:`~deploybench.tables.Grid.restrict`); the oracle is then the
            sub-grid's.
    """

    direction = "maximize"
    discrete = True

    def __init__(
        self,
        table: Table | str | os.PathLike[str],
        scenario: str | Scenario,
        seed: int = 0,
        feasible_fraction: float = ORACLE_FEASIBLE_FRACTION,
        subgrid: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        if isinstance(table, Table):
            self.table = table
            table_name = "table"
        else:
            path = resolve_table_path(table)
            self.table = load_table(path)
            table_name = str(table)
        if subgrid:
            if not isinstance(subgrid, Mapping):
                raise ValueError(f"subgrid must be a mapping axis -> values, got {subgrid!r}")
            self.table = self.table.restricted(self.table.grid.restrict(subgrid))
        self.scenario = scenario if isinstance(scenario, Scenario) else get_scenario(scenario)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not 0.0 < feasible_fraction <= 1.0:
            raise ValueError(f"feasible_fraction must be in (0, 1], got {feasible_fraction}")
        self.seed = int(seed)
        self.feasible_fraction = float(feasible_fraction)
        self.name = f"replay:{table_name}:{self.scenario.name}"
        self.limits: dict[str, float] = dict(self.scenario.limits())
        self.constraint_keys = tuple(self.limits)

    # -- evaluation -------------------------------------------------------------------
    def suggest_config(self, trial: optuna.trial.BaseTrial) -> DeployConfig:
        """Suggest one configuration of the table's grid (define-by-run)."""
        grid = self.table.grid
        model = trial.suggest_categorical("model", list(grid.models))
        backend = trial.suggest_categorical("backend", list(grid.backends))
        precision = trial.suggest_categorical("precision", list(grid.precisions))
        batch_size = trial.suggest_categorical("batch_size", list(grid.batch_sizes))
        threads = None
        if backend not in THREADLESS_BACKENDS:
            threads = trial.suggest_categorical("threads", list(grid.threads))
        return DeployConfig(str(model), str(backend), str(precision), int(batch_size), threads)

    def draw_repeat(self, record: ConfigRecord, trial_number: int) -> RepeatSummary:
        """The repeat replayed for ``trial_number`` (deterministic for a seed)."""
        rng = np.random.default_rng([self.seed, int(trial_number)])
        return record.repeats[int(rng.integers(len(record.repeats)))]

    def __call__(self, trial: optuna.trial.BaseTrial) -> float:
        config = self.suggest_config(trial)
        trial.set_user_attr("config_key", config.key())
        record = self.table.get(config)
        if record is None or not record.repeats:
            trial.set_user_attr("crash_kind", NOT_RECORDED)
            raise ReplayCrash(NOT_RECORDED, f"{config.key()} is not in the table")
        rep = self.draw_repeat(record, trial.number)
        trial.set_user_attr("replay_repeat", rep.repeat)
        if rep.status == "crash":
            kind = rep.crash_kind or "error"
            trial.set_user_attr("crash_kind", kind)
            raise ReplayCrash(kind, rep.crash_message or "")
        measured = self._measured(rep)
        value = self._value(config, record, rep)
        report_constraints(
            trial,
            {k: (0.0 if v is None else v / self.limits[k] - 1.0) for k, v in measured.items()},
        )
        for key, measured_value in measured.items():
            trial.set_user_attr(key, measured_value)
        trial.set_user_attr("scenario", self.scenario.name)
        trial.set_user_attr("objective", self.scenario.objective)
        trial.set_user_attr("feasible", self.repeat_feasible(rep))
        if rep.status == "aborted":
            trial.set_user_attr("aborted_early", True)
        return value

    def _measured(self, rep: RepeatSummary) -> dict[str, float | None]:
        """Metric values of a repeat for the scenario limits (in the limits' order).

        An aborted repeat has no timed passes: its latency metrics are the warm-up
        latency (falling back to the abort threshold). A missing memory value
        (``None``) is reported as a zero violation but never counts as feasible.
        """
        out: dict[str, float | None] = {}
        for metric in self.limits:
            value = getattr(rep, limit_field(metric), None)
            if rep.status == "aborted" and metric.startswith("latency_"):
                value = rep.warmup_latency_ms or rep.abort_threshold_ms
            out[metric] = None if value is None else float(value)
        return out

    def _value(self, config: DeployConfig, record: ConfigRecord, rep: RepeatSummary) -> float:
        if self.scenario.objective == "accuracy":
            if record.accuracy is None:
                raise ReplayCrash("error", f"no objective value for {config.key()}")
            return float(record.accuracy)
        return _throughput(config, rep)

    # -- ground truth -----------------------------------------------------------------
    def _record(self, params: Mapping[str, Any]) -> tuple[DeployConfig, ConfigRecord | None]:
        backend = str(params["backend"])
        threads = params.get("threads")
        config = DeployConfig(
            str(params["model"]), backend, str(params["precision"]), int(params["batch_size"]),
            None if backend in THREADLESS_BACKENDS or threads is None else int(threads),
        )
        return config, self.table.get(config)

    def repeat_feasible(self, rep: RepeatSummary) -> bool:
        """Whether one recorded repeat meets every limit of the scenario."""
        return rep.status == "ok" and _is_feasible(self._measured(rep), self.limits)

    def feasibility_probability(self, params: Mapping[str, Any]) -> float | None:
        """Fraction of recorded repeats meeting every limit (None if not recorded)."""
        _, record = self._record(params)
        if record is None or not record.repeats:
            return None
        return sum(self.repeat_feasible(r) for r in record.repeats) / len(record.repeats)

    def truth(self, params: Mapping[str, Any]) -> float | None:
        """Noise-free objective: the accuracy, or the median throughput over the repeats.

        None when the configuration is not recorded or most of its repeats crashed.
        """
        config, record = self._record(params)
        if record is None or not record.repeats:
            return None
        alive = [r for r in record.repeats if r.status != "crash"]
        if len(alive) * 2 < len(record.repeats):
            return None
        if self.scenario.objective == "accuracy":
            return None if record.accuracy is None else float(record.accuracy)
        return float(statistics.median(_throughput(config, r) for r in alive))

    def oracle(self) -> float:
        """Best ``truth`` over configurations feasible in >= ``feasible_fraction`` of repeats.

        Raises:
            ValueError: No recorded configuration is feasible by that definition.
        """
        best: float | None = None
        for record in self.table.records.values():
            params = _params_of(record.config)
            prob = self.feasibility_probability(params)
            value = self.truth(params)
            if prob is None or value is None or prob < self.feasible_fraction:
                continue
            best = value if best is None else max(best, value)
        if best is None:
            raise ValueError(
                f"no configuration of {self.name} is feasible in >= "
                f"{self.feasible_fraction:.0%} of its repeats"
            )
        return best


def _params_of(config: DeployConfig) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": config.model,
        "backend": config.backend,
        "precision": config.precision,
        "batch_size": config.batch_size,
    }
    if config.threads is not None:
        params["threads"] = config.threads
    return params


def _throughput(config: DeployConfig, rep: RepeatSummary) -> float:
    """Recorded throughput, or for an aborted repeat the warm-up estimate (0 if unknown)."""
    if rep.throughput_ips is not None:
        return float(rep.throughput_ips)
    latency = rep.warmup_latency_ms or rep.abort_threshold_ms
    if latency:
        return 1000.0 * config.batch_size / float(latency)
    return 0.0


def replay_problem(name: str, seed: int = 0, **kwargs: Any) -> TableObjective:
    """Build a replay problem from ``replay:<table-name-or-path>:<scenario>``.

    The scenario is the text after the last ``:``, so table paths may contain ``:``.
    Other keyword arguments (``feasible_fraction``, ``subgrid``) go to
    :class:`TableObjective`.
    """
    prefix = "replay:"
    usage = f"replay problem names look like 'replay:<table>:<scenario>', got {name!r}"
    if not name.startswith(prefix):
        raise ValueError(usage)
    table, sep, scenario = name[len(prefix):].rpartition(":")
    if not sep or not table or not scenario:
        raise ValueError(usage)
    problem = TableObjective(table, scenario, seed=seed, **kwargs)
    problem.name = name
    return problem
