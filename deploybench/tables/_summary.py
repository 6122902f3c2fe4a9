"""Summaries of a table: coverage and crash / infeasible / feasible fractions per scenario."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import Any

from deploybench.tables._format import Table
from deploybench.tables._replay import TableObjective, _params_of
from deploybench.tables._space import SCENARIOS


@dataclasses.dataclass(frozen=True)
class ScenarioSummary:
    """Outcome fractions of one scenario over all recorded repeats and configurations."""

    scenario: str
    repeats: int
    crashed: float  # fraction of repeats
    aborted: float  # fraction of repeats aborted early (all infeasible)
    infeasible: float  # fraction of repeats that ran (ok or aborted) but broke a limit
    feasible: float  # fraction of repeats meeting every limit
    configs_feasible: int  # configurations feasible for the oracle
    oracle: float | None


def summarize_scenario(table: Table, scenario: str) -> ScenarioSummary:
    """Fractions of crashed / infeasible / feasible repeats under ``scenario``."""
    obj = TableObjective(table, scenario)
    reps = [r for rec in table.records.values() for r in rec.repeats]
    n = len(reps)
    crashed = sum(r.status == "crash" for r in reps)
    aborted = sum(r.status == "aborted" for r in reps)
    feasible = sum(obj.repeat_feasible(r) for r in reps)
    configs_feasible = 0
    for rec in table.records.values():
        prob = obj.feasibility_probability(_params_of(rec.config))
        if prob is not None and prob >= obj.feasible_fraction:
            configs_feasible += 1
    try:
        oracle: float | None = obj.oracle()
    except ValueError:
        oracle = None
    frac = (lambda k: k / n) if n else (lambda k: 0.0)
    return ScenarioSummary(scenario, n, frac(crashed), frac(aborted),
                           frac(n - crashed - feasible), frac(feasible), configs_feasible, oracle)


def outcome_counts(table: Table) -> dict[str, Any]:
    """Scenario-free counts of the recorded repeats: how many configurations have each
    number of repeats, repeats per status (``ok``, ``aborted``, ``crash``), crashes per
    backend and crash kind (e.g. ``{"onnxruntime": {"segfault": 50}}``), and repeats by the
    other processes' load while they ran (at most 0.5 core, more, or not measured)."""
    per_config = Counter(len(rec.repeats) for rec in table.records.values())
    statuses: Counter[str] = Counter()
    load: Counter[str] = Counter()
    crashes: dict[str, Counter[str]] = {}
    for rec in table.records.values():
        for r in rec.repeats:
            statuses[r.status] += 1
            other = r.other_load_cores
            load["unknown" if other is None else "<=0.5" if other <= 0.5 else ">0.5"] += 1
            if r.status == "crash":
                kind = r.crash_kind or "unknown"
                crashes.setdefault(rec.config.backend, Counter())[kind] += 1
    return {
        "configs_by_repeats": {str(k): per_config[k] for k in sorted(per_config)},
        "repeats_by_status": dict(sorted(statuses.items())),
        "crashes_by_backend": {b: dict(sorted(c.items())) for b, c in sorted(crashes.items())},
        "repeats_by_other_load": {k: load[k] for k in ("<=0.5", ">0.5", "unknown") if load[k]},
    }


def summarize(table: Table, scenarios: Iterable[str] | None = None) -> dict[str, Any]:
    """Coverage of the grid, :func:`outcome_counts`, and a :class:`ScenarioSummary` per
    scenario (as dicts)."""
    grid_size = len(table.grid.configs())
    repeats = [len(rec.repeats) for rec in table.records.values()]
    return {
        "configs_recorded": len(table.records),
        "configs_in_grid": grid_size,
        "repeats_recorded": sum(repeats),
        "min_repeats_per_config": min(repeats) if repeats else 0,
        "recording_wall_s": table.provenance.get("recording_wall_s"),
        **outcome_counts(table),
        "scenarios": [
            dataclasses.asdict(summarize_scenario(table, s))
            for s in (scenarios if scenarios is not None else SCENARIOS)
        ],
    }


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable text of :func:`summarize`."""
    wall = summary.get("recording_wall_s")
    lines = [
        f"configs recorded: {summary['configs_recorded']} / {summary['configs_in_grid']} "
        f"(repeats: {summary['repeats_recorded']}, min per config: "
        f"{summary['min_repeats_per_config']})",
        f"recording wall time: {'unknown' if wall is None else f'{wall / 3600:.2f} h'}",
    ]
    if "configs_by_repeats" in summary:
        by_rep = ", ".join(f"{n} with {k}" for k, n in summary["configs_by_repeats"].items())
        by_status = ", ".join(f"{n} {k}" for k, n in summary["repeats_by_status"].items())
        crashes = "; ".join(
            f"{b}: " + ", ".join(f"{n} {k}" for k, n in kinds.items())
            for b, kinds in summary["crashes_by_backend"].items()
        )
        by_load = ", ".join(f"{n} {k}" for k, n in summary["repeats_by_other_load"].items())
        lines += [
            f"configurations by repeats: {by_rep or 'none'}",
            f"repeats by other load (cores): {by_load or 'none'}",
            f"repeats by status: {by_status or 'none'}",
            f"crashes by backend: {crashes or 'none'}",
        ]
    lines += [
        f"{'scenario':<20} {'repeats':>7} {'crashed':>8} {'aborted':>8} {'infeas.':>8} "
        f"{'feasible':>8} {'cfg feas':>8}  oracle",
    ]
    for s in summary["scenarios"]:
        oracle = "-" if s["oracle"] is None else f"{s['oracle']:.4g}"
        lines.append(
            f"{s['scenario']:<20} {s['repeats']:>7} {s['crashed']:>8.1%} {s['aborted']:>8.1%} "
            f"{s['infeasible']:>8.1%} {s['feasible']:>8.1%} {s['configs_feasible']:>8}  {oracle}"
        )
    return "\n".join(lines)
