"""Recorded replay tables: record a deployment grid once, replay it as a cheap objective.

* :func:`record` sweeps a :class:`Grid` with a profiler into an append-only,
  resumable JSONL recording; :func:`compact` turns it into a shipped ``.jsonl.gz``
  table (:func:`load_table` / :func:`save_table`).
* :func:`prepare_study` / :func:`run_worker` / :func:`export_table` record through an
  Optuna storage with several workers.
* :class:`TableObjective` replays a table under a scenario (a
  :class:`deploybench.problems.Problem`); :func:`replay_problem` parses
  ``replay:<table>:<scenario>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploybench.tables._distributed import (
    export_table,
    open_storage,
    prepare_study,
    run_worker,
    run_workers,
)
from deploybench.tables._format import (
    SCHEMA_VERSION,
    ConfigRecord,
    RepeatSummary,
    Table,
    TableFormatError,
    build_table,
    load_table,
    save_table,
)
from deploybench.tables._recorder import (
    DEFAULT_PROFILER,
    ProfileFn,
    default_provenance,
    record,
    resolve_profiler,
    sweep_order,
)
from deploybench.tables._recording import RecordingReplacedError, read_recording
from deploybench.tables._replay import (
    NOT_RECORDED,
    ORACLE_FEASIBLE_FRACTION,
    ReplayCrash,
    TableObjective,
    replay_problem,
    shipped_tables,
)
from deploybench.tables._space import SCENARIOS, Grid, Scenario, get_scenario
from deploybench.tables._summary import format_summary, summarize


def compact(recording: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Compact a JSONL recording (possibly partial) into a gzip table file."""
    return save_table(read_recording(recording).to_table(), out)


__all__ = [
    "DEFAULT_PROFILER",
    "NOT_RECORDED",
    "ORACLE_FEASIBLE_FRACTION",
    "SCENARIOS",
    "SCHEMA_VERSION",
    "ConfigRecord",
    "Grid",
    "ProfileFn",
    "RecordingReplacedError",
    "RepeatSummary",
    "ReplayCrash",
    "Scenario",
    "Table",
    "TableFormatError",
    "TableObjective",
    "build_table",
    "compact",
    "default_provenance",
    "export_table",
    "format_summary",
    "get_scenario",
    "load_table",
    "open_storage",
    "prepare_study",
    "read_recording",
    "record",
    "replay_problem",
    "resolve_profiler",
    "run_worker",
    "run_workers",
    "save_table",
    "shipped_tables",
    "summarize",
    "sweep_order",
]
