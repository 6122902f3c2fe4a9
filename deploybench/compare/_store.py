"""Append-only JSONL result files that survive being killed mid-write."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any


def repair_tail(path: Path) -> int:
    """Drop a truncated last line (no trailing newline) left by a killed writer.

    Returns the number of bytes removed (0 when the file is missing or intact).
    """
    if not path.exists():
        return 0
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        fh.truncate(keep)
    return len(data) - keep


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Yield every complete, parseable JSON object line; skip damaged lines.

    A ``.gz`` file (as the published ``runs.jsonl.gz``) is read through gzip."""
    if not path.exists():
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                continue  # truncated last line
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def append_row(path: Path, row: Mapping[str, Any]) -> None:
    """Append one row as a single line and flush it to disk."""
    line = json.dumps(row, sort_keys=True, allow_nan=False) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
