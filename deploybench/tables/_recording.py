"""The append-only, crash-safe recording file (plain JSON Lines).

Line 1 is a header (``"format": "deploybench-recording"``, schema version, grid,
settings, provenance). Each later line is either a session marker
(``{"kind": "session", ...}``, written each time a recorder starts) or a row
(``{"kind": "row", "repeat": r, "recorded_at": iso, "result": ProfileResult}``).

Every row is flushed and ``fsync``-ed before the next measurement starts, so a
``kill -9`` loses at most the measurement in flight. A torn last line (the process
died mid-write) is cut off when the file is reopened; a corrupt line anywhere else is
an error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from deploybench.profiling._types import ProfileResult, ProfileSettings
from deploybench.tables._format import (
    SCHEMA_VERSION,
    Table,
    TableFormatError,
    build_table,
    check_header,
)
from deploybench.tables._space import Grid

RECORDING_FORMAT = "deploybench-recording"


def utc_now() -> str:
    """Current UTC time, ISO 8601 with seconds."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class Row:
    """One recorded measurement."""

    result: ProfileResult
    repeat: int
    recorded_at: str | None


@dataclasses.dataclass
class RecordingContents:
    """Everything read back from a recording file."""

    header: dict[str, Any]
    rows: list[Row]
    sessions: list[dict[str, Any]]
    valid_bytes: int  # length of the file up to the last complete line

    @property
    def grid(self) -> Grid:
        return Grid.from_dict(self.header["grid"])

    def done(self) -> set[tuple[str, int]]:
        """The (config key, repeat) pairs already recorded."""
        return {(r.result.config.key(), r.repeat) for r in self.rows}

    def wall_s(self) -> float:
        """Recording wall time: per session, last row time minus session start."""
        total = 0.0
        starts = [_parse_time(s.get("started_at")) for s in self.sessions]
        times = [(_parse_time(r.recorded_at), r) for r in self.rows]
        for i, start in enumerate(starts):
            if start is None:
                continue
            end_limit = starts[i + 1] if i + 1 < len(starts) else None
            in_session = [
                t for t, _ in times if t is not None and t >= start and
                (end_limit is None or t < end_limit)
            ]
            if in_session:
                total += (max(in_session) - start).total_seconds()
        return total

    def to_table(self, extra_provenance: Mapping[str, Any] | None = None) -> Table:
        prov = dict(self.header.get("provenance") or {})
        prov["sessions"] = len(self.sessions)
        prov["recording_wall_s"] = round(self.wall_s(), 1)
        stamps = sorted(r.recorded_at for r in self.rows if r.recorded_at)
        prov["first_row_at"] = stamps[0] if stamps else None
        prov["last_row_at"] = stamps[-1] if stamps else None
        prov["rows"] = len(self.rows)
        prov.update(extra_provenance or {})
        return build_table(
            self.grid,
            ((r.result, r.repeat, r.recorded_at) for r in self.rows),
            self.header.get("settings") or {},
            prov,
        )


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def read_recording(path: str | os.PathLike[str]) -> RecordingContents:
    """Parse a recording file, tolerating only a torn last line.

    Raises:
        TableFormatError: Missing file, foreign header, corrupt line before the end.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TableFormatError(f"recording not found: {path}") from None
    lines = data.split(b"\n")
    # Everything after the last newline is an incomplete (torn) line.
    complete, tail = lines[:-1], lines[-1]
    valid_bytes = len(data) - len(tail)
    if not complete:
        raise TableFormatError(f"{path} has no complete header line")
    try:
        header = json.loads(complete[0])
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise TableFormatError(f"{path} is not a deploybench recording (bad header)") from None
    header = check_header(header, path, RECORDING_FORMAT)
    rows: list[Row] = []
    sessions: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for i, raw in enumerate(complete[1:], start=2):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
            kind = obj["kind"]
            if kind == "session":
                sessions.append(obj)
                continue
            if kind != "row":
                raise ValueError(f"unknown line kind {kind!r}")
            row = Row(ProfileResult.from_dict(obj["result"]), int(obj["repeat"]),
                      obj.get("recorded_at"))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
                ValueError) as exc:
            if i == len(complete):
                # A last line that is complete but garbled counts as torn too.
                valid_bytes -= len(raw) + 1
                break
            raise TableFormatError(f"{path} line {i} is corrupt ({exc})") from None
        pair = (row.result.config.key(), row.repeat)
        if pair in seen:
            continue  # never double-count (cannot happen with one writer)
        seen.add(pair)
        rows.append(row)
    return RecordingContents(header, rows, sessions, valid_bytes)


def same_settings(have: Mapping[str, Any] | None, want: Mapping[str, Any]) -> bool:
    """Whether stored settings equal the wanted ones.

    Compared as :class:`ProfileSettings` so that a field added to the profiler later
    (with its default) does not block resuming an older recording.
    """
    if not isinstance(have, Mapping):
        return False
    return ProfileSettings.from_dict(dict(have)) == ProfileSettings.from_dict(dict(want))


def _same(key: str, have: Any, want: Mapping[str, Any]) -> bool:
    if key == "settings":
        return same_settings(have, want)
    return bool(have == json.loads(json.dumps(want)))


def make_header(grid: Grid, settings: Mapping[str, Any],
                provenance: Mapping[str, Any]) -> dict[str, Any]:
    """The first line of a new recording."""
    return {
        "format": RECORDING_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "grid": grid.to_dict(),
        "settings": dict(settings),
        "provenance": dict(provenance),
    }


class RecordingReplacedError(ValueError):
    """The recording file was replaced or deleted while the recorder had it open."""


class RecordingWriter:
    """Appends rows to a recording file, one fsync per row.

    Opening an existing file validates that it was made with the same grid and
    settings, cuts a torn last line and appends a session marker. Before every write it
    checks that the path still names the file it opened: a ``git checkout`` or ``git
    stash`` of the recording replaces the file, and appends to the open descriptor would
    then go to a deleted file and be lost. It raises :class:`RecordingReplacedError`
    instead, writing nothing.
    """

    def __init__(self, path: str | os.PathLike[str], header: Mapping[str, Any],
                 session_info: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self._file: IO[bytes] | None = None
        if self.path.exists() and b"\n" not in self.path.read_bytes()[:1_000_000]:
            self.path.write_bytes(b"")  # killed while writing the header: start afresh
        if self.path.exists() and self.path.stat().st_size > 0:
            contents = read_recording(self.path)
            for key in ("grid", "settings"):
                if not _same(key, contents.header.get(key), header[key]):
                    raise ValueError(
                        f"{self.path} was recorded with a different {key} "
                        f"({contents.header.get(key)}); resume with the same options or "
                        "use another output file"
                    )
            with open(self.path, "r+b") as f:
                f.truncate(contents.valid_bytes)
            self.contents = contents
            self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            self._write(dict(header))
            self.contents = RecordingContents(dict(header), [], [], 0)
        session = {"kind": "session", "started_at": utc_now(), "pid": os.getpid(),
                   "host_sha256_12": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12],
                   **dict(session_info or {})}
        self._write(session)
        self.contents.sessions.append(session)

    def _check_same_file(self) -> None:
        assert self._file is not None
        mine = os.fstat(self._file.fileno())
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            on_disk = None
        if on_disk is None or (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino):
            what = "deleted" if on_disk is None else "replaced by another file"
            raise RecordingReplacedError(
                f"{self.path} was {what} while recording (for example by `git checkout` or "
                "`git stash`); the recorder stopped without writing the last measurement, so "
                "no row went to the lost file. Run the same command again to resume from "
                f"{self.path} as it is now."
            )

    def _write(self, obj: Mapping[str, Any]) -> None:
        assert self._file is not None
        self._check_same_file()
        self._file.write((json.dumps(obj, sort_keys=True) + "\n").encode())
        self._file.flush()
        os.fsync(self._file.fileno())

    def append(self, result: ProfileResult, repeat: int) -> Row:
        """Durably append one measurement."""
        row = Row(result, int(repeat), utc_now())
        self._write({"kind": "row", "repeat": row.repeat, "recorded_at": row.recorded_at,
                     "result": result.to_dict()})
        self.contents.rows.append(row)
        return row

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
