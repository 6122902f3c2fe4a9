"""The versioned on-disk format of recorded tables (gzip-compressed JSON Lines).

A *table* file (``*.jsonl.gz``) holds:

* line 1, the header: ``{"format": "deploybench-table", "schema_version": 1,
  "grid": {...}, "settings": {...}, "provenance": {...}}``;
* then one line per configuration: ``{"config": {...}, "accuracy": float | null,
  "accuracy_source": str | null, "repeats": [RepeatSummary, ...]}``.

See ``docs/deploybench/tables.md`` for every field. Loading anything else raises
:class:`TableFormatError` with a one-line message.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from deploybench.profiling._types import DeployConfig, ProfileResult
from deploybench.tables._space import Grid

SCHEMA_VERSION = 1
TABLE_FORMAT = "deploybench-table"

#: ProfileResult fields kept per repeat (everything except the config, accuracy and
#: the bulky per-run provenance).
REPEAT_FIELDS: tuple[str, ...] = (
    "status",
    "crash_kind",
    "crash_message",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "latency_mean_ms",
    "throughput_ips",
    "peak_memory_mb",
    "memory_method",
    "device_executed",
    "threads_intra",
    "threads_inter",
    "quantized",
    "aborted_early",
    "abort_threshold_ms",
    "warmup_latency_ms",
    "passes_timed",
    "wall_s",
)
_MAX_MESSAGE = 500


class TableFormatError(ValueError):
    """A table or recording file that is corrupt, foreign or of an unknown schema."""


@dataclasses.dataclass(frozen=True)
class RepeatSummary:
    """One measurement of one configuration, as stored in a table."""

    repeat: int
    status: str
    crash_kind: str | None = None
    crash_message: str | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_mean_ms: float | None = None
    throughput_ips: float | None = None
    peak_memory_mb: float | None = None
    memory_method: str | None = None
    device_executed: str | None = None
    threads_intra: int | None = None
    threads_inter: int | None = None
    quantized: str | None = None
    aborted_early: bool = False
    abort_threshold_ms: float | None = None
    warmup_latency_ms: float | None = None
    passes_timed: int = 0
    wall_s: float | None = None
    recorded_at: str | None = None
    other_load_cores: float | None = None

    @classmethod
    def from_result(
        cls, result: ProfileResult, repeat: int, recorded_at: str | None = None
    ) -> RepeatSummary:
        d = result.to_dict()
        kwargs: dict[str, Any] = {k: d.get(k) for k in REPEAT_FIELDS}
        msg = kwargs.get("crash_message")
        if isinstance(msg, str) and len(msg) > _MAX_MESSAGE:
            kwargs["crash_message"] = msg[:_MAX_MESSAGE] + "..."
        kwargs["aborted_early"] = bool(kwargs.get("aborted_early"))
        kwargs["passes_timed"] = int(kwargs.get("passes_timed") or 0)
        load = (result.provenance or {}).get("other_load_cores")
        kwargs["other_load_cores"] = None if load is None else float(load)
        return cls(repeat=int(repeat), recorded_at=recorded_at, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RepeatSummary:
        names = {f.name for f in dataclasses.fields(cls)}
        if "repeat" not in d or "status" not in d:
            raise TableFormatError("repeat entry lacks 'repeat' or 'status'")
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass
class ConfigRecord:
    """All recorded repeats of one configuration."""

    config: DeployConfig
    repeats: list[RepeatSummary]
    accuracy: float | None = None
    accuracy_source: str | None = None
    accuracy_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "accuracy": self.accuracy,
            "accuracy_source": self.accuracy_source,
            "accuracy_note": self.accuracy_note,
            "repeats": [r.to_dict() for r in sorted(self.repeats, key=lambda r: r.repeat)],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ConfigRecord:
        return cls(
            config=DeployConfig.from_dict(d["config"]),
            repeats=[RepeatSummary.from_dict(r) for r in d["repeats"]],
            accuracy=None if d.get("accuracy") is None else float(d["accuracy"]),
            accuracy_source=d.get("accuracy_source"),
            accuracy_note=d.get("accuracy_note"),
        )


@dataclasses.dataclass
class Table:
    """A recorded table: the intended grid, the records measured so far, provenance."""

    grid: Grid
    records: dict[str, ConfigRecord]  # keyed by DeployConfig.key()
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    def get(self, config: DeployConfig) -> ConfigRecord | None:
        return self.records.get(config.key())

    def restricted(self, grid: Grid) -> Table:
        """The same table seen through a sub-grid (records outside it are dropped)."""
        keys = {c.key() for c in grid.configs()}
        records = {k: r for k, r in self.records.items() if k in keys}
        return Table(grid, records, dict(self.settings), dict(self.provenance))

    def header(self) -> dict[str, Any]:
        return {
            "format": TABLE_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "grid": self.grid.to_dict(),
            "settings": self.settings,
            "provenance": self.provenance,
        }


def build_table(
    grid: Grid,
    rows: Iterable[tuple[ProfileResult, int, str | None]],
    settings: Mapping[str, Any],
    provenance: Mapping[str, Any],
) -> Table:
    """Group per-repeat results into a :class:`Table` (first row wins on duplicates).

    Args:
        grid: The grid the recording was asked to cover.
        rows: ``(result, repeat_index, recorded_at)`` triples.
        settings: The profile settings used.
        provenance: Table-level provenance.
    """
    records: dict[str, ConfigRecord] = {}
    for result, repeat, recorded_at in rows:
        key = result.config.key()
        rec = records.setdefault(key, ConfigRecord(result.config, []))
        if any(r.repeat == repeat for r in rec.repeats):
            continue
        rec.repeats.append(RepeatSummary.from_result(result, repeat, recorded_at))
        if rec.accuracy is None and result.accuracy is not None:
            rec.accuracy = float(result.accuracy)
            rec.accuracy_source = result.accuracy_source
            rec.accuracy_note = getattr(result, "accuracy_note", None)
    for rec in records.values():
        rec.repeats.sort(key=lambda r: r.repeat)
    return Table(grid, records, dict(settings), dict(provenance))


def save_table(table: Table, path: str | os.PathLike[str]) -> Path:
    """Write ``table`` as gzip JSONL atomically (temp file + rename); returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per writer process
    # mtime=0 keeps the bytes reproducible for the same content.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write((json.dumps(table.header(), sort_keys=True) + "\n").encode())
        for key in sorted(table.records):
            line = json.dumps(table.records[key].to_dict(), sort_keys=True)
            gz.write((line + "\n").encode())
    os.replace(tmp, path)
    return path


def _read_lines(path: Path) -> list[str]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        raise TableFormatError(f"table file not found: {path}") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise TableFormatError(f"{path} is not a gzip-compressed table ({exc})") from None


def check_header(header: Any, path: Path, expected_format: str) -> dict[str, Any]:
    """Validate a header object; returns it or raises :class:`TableFormatError`."""
    if not isinstance(header, dict) or header.get("format") != expected_format:
        raise TableFormatError(f"{path} is not a {expected_format} file (bad or missing header)")
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        raise TableFormatError(
            f"{path} has schema_version {version!r}; this deploybench reads {SCHEMA_VERSION}"
        )
    return header


def load_table(path: str | os.PathLike[str]) -> Table:
    """Read a table written by :func:`save_table`.

    Raises:
        TableFormatError: The file is missing, not gzip, not JSON, of another format or
            schema version, or a record is malformed.
    """
    path = Path(path)
    lines = _read_lines(path)
    if not lines:
        raise TableFormatError(f"{path} is empty")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        raise TableFormatError(f"{path} is not a deploybench table (header is not JSON)") from None
    header = check_header(header, path, TABLE_FORMAT)
    try:
        grid = Grid.from_dict(header["grid"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TableFormatError(f"{path}: invalid grid in header ({exc})") from None
    records: dict[str, ConfigRecord] = {}
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            rec = ConfigRecord.from_dict(json.loads(line))
        except TableFormatError as exc:
            raise TableFormatError(f"{path} line {i}: {exc}") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TableFormatError(f"{path} line {i}: malformed record ({exc})") from None
        records[rec.config.key()] = rec
    return Table(
        grid, records, dict(header.get("settings") or {}), dict(header.get("provenance") or {})
    )


def configs_in(table: Table) -> Sequence[DeployConfig]:
    """The recorded configurations, sorted by key."""
    return [table.records[k].config for k in sorted(table.records)]
