"""Re-measure selected configurations many times, resumably.

Operational definition of cold and warm repeats
-----------------------------------------------
Every repeat is one call of the profiler, which runs the model in a fresh subprocess, so
no Python, PyTorch or ONNX Runtime state survives between repeats. What can survive is
machine state: the OS page cache (model files, shared libraries), CPU caches and
frequency, memory allocator state of the kernel. We therefore call a repeat

* **warm** when the measurement made just before it *in the same probe process* was of
  the same configuration, and
* **cold** otherwise (a different configuration ran just before, or it is the first
  measurement of the run).

The schedule measures each configuration twice back to back in every round, and shuffles
the configuration order in every round (seeded), so repeats alternate cold, warm, cold,
warm... The label written to the log is the *actual* predecessor, so it stays truthful
after a resume or when some repeats were already done. Nothing is flushed between
repeats (we cannot drop the page cache without root); "cold" here is a weaker notion than
a rebooted machine, and the documentation says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from deploybench.probe._select import Selected, selected_from_dicts
from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings

ProfileFn = Callable[[DeployConfig, ProfileSettings], ProfileResult]
PROBE_FORMAT = "deploybench-probe"
SCHEMA_VERSION = 1


class ProbeLogError(ValueError):
    """A probe log that is corrupt or belongs to a different probe."""


@dataclasses.dataclass(frozen=True)
class ScheduledRepeat:
    """One planned measurement."""

    selected: Selected
    repeat: int

    @property
    def key(self) -> tuple[str, int]:
        return self.selected.candidate.config.key(), self.repeat


def probe_schedule(
    selected: Sequence[Selected], repeats: int, seed: int = 0
) -> list[ScheduledRepeat]:
    """Rounds of back-to-back pairs: (cold, warm) for every config, shuffled per round."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not selected:
        raise ValueError("nothing to probe: the selection is empty")
    keys = [s.candidate.config.key() for s in selected]
    if len(set(keys)) != len(keys):
        raise ValueError("the selection contains the same configuration twice")
    rng = np.random.default_rng(seed)
    plan: list[ScheduledRepeat] = []
    for rnd in range((repeats + 1) // 2):
        for idx in rng.permutation(len(selected)).tolist():
            for j in (0, 1):
                rep = 2 * rnd + j
                if rep < repeats:
                    plan.append(ScheduledRepeat(selected[idx], rep))
    return plan


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def read_probe_log(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read ``(header, records)`` of a probe log (a truncated last line is ignored)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ProbeLogError(f"probe log not found: {path}") from None
    if not lines:
        raise ProbeLogError(f"{path} is empty")
    try:
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        raise ProbeLogError(f"{path} is not a probe log (header is not JSON)") from None
    if not isinstance(header, dict) or header.get("format") != PROBE_FORMAT:
        raise ProbeLogError(f"{path} is not a {PROBE_FORMAT} log")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise ProbeLogError(f"{path} has schema_version {header.get('schema_version')!r}")
    records: list[dict[str, Any]] = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines):  # interrupted while writing the last line
                break
            raise ProbeLogError(f"{path} line {i} is not JSON") from None
    return header, records


def _header(selected: Sequence[Selected], settings: ProfileSettings, repeats: int, seed: int,
            cap_ms: float, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "format": PROBE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "created_at": _utc_now(),
        "cap_ms": cap_ms,
        "repeats": repeats,
        "seed": seed,
        "settings": settings.to_dict(),
        "selection": [s.to_dict() for s in selected],
        **dict(extra or {}),
    }


def _check_compatible(header: Mapping[str, Any], new: Mapping[str, Any], path: Path) -> None:
    for field in ("cap_ms", "settings", "seed"):
        if header.get(field) != new.get(field):
            raise ProbeLogError(
                f"{path} was started with a different {field} ({header.get(field)!r} vs "
                f"{new.get(field)!r}); use another --out directory or the same options"
            )
    old = [d["config_key"] for d in header.get("selection", [])]
    now = [d["config_key"] for d in new.get("selection", [])]
    if old != now:
        raise ProbeLogError(f"{path} was started with a different selection of configurations")


def _drop_torn_tail(path: Path) -> None:
    """Truncate a last line left incomplete by an interruption (it is re-measured)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _safe_profile(profile_fn: ProfileFn, config: DeployConfig,
                  settings: ProfileSettings) -> ProfileResult:
    try:
        return profile_fn(config, settings)
    except Exception as exc:  # the probe must survive one broken measurement
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return ProfileResult(config, "crash", crash_kind="error",
                             crash_message=f"profiler raised: {tb}"[:500])


def run_probe(
    selected: Sequence[Selected],
    settings: ProfileSettings,
    *,
    repeats: int,
    log_path: str | os.PathLike[str],
    profile_fn: ProfileFn,
    cap_ms: float,
    seed: int = 0,
    progress: bool = True,
    header_extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Measure every selected configuration ``repeats`` times; append each to ``log_path``.

    Repeats already in the log are skipped, so an interrupted probe resumes where it
    stopped. The log is append-only JSON Lines: a header, then one record per repeat
    (``config_key``, ``zone``, ``repeat``, ``start`` = cold/warm, ``previous_config``,
    ``result`` = :meth:`ProfileResult.to_dict`, ``recorded_at``, ``loadavg_1m``).

    Returns:
        All records of the log (old and new), in log order.
    """
    path = Path(log_path)
    plan = probe_schedule(selected, repeats, seed)
    header = _header(selected, settings, repeats, seed, cap_ms, header_extra)
    records: list[dict[str, Any]] = []
    if path.exists() and path.stat().st_size > 0:
        old_header, records = read_probe_log(path)
        _check_compatible(old_header, header, path)
        _drop_torn_tail(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(header, sort_keys=True) + "\n", encoding="utf-8")
    done = {(r["config_key"], int(r["repeat"])) for r in records}
    todo = [item for item in plan if item.key not in done]
    previous: str | None = None
    with path.open("a", encoding="utf-8") as log, tqdm(
        total=len(plan), initial=len(plan) - len(todo), disable=not progress,
        desc="probe", unit="run",
    ) as bar:
        for item in todo:
            config = item.selected.candidate.config
            key = config.key()
            result = _safe_profile(profile_fn, config, settings)
            record = {
                "config_key": key,
                "config": config.to_dict(),
                "zone": item.selected.zone,
                "repeat": item.repeat,
                "start": "warm" if previous == key else "cold",
                "previous_config": previous,
                "result": result.to_dict(),
                "recorded_at": _utc_now(),
                "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            }
            log.write(json.dumps(record, sort_keys=True) + "\n")
            log.flush()
            os.fsync(log.fileno())
            records.append(record)
            previous = key
            bar.update(1)
    return records


def selection_from_log(header: Mapping[str, Any]) -> list[Selected]:
    """The selection stored in a probe log header."""
    return selected_from_dicts(header.get("selection", []))


def iter_results(
    records: Iterable[Mapping[str, Any]],
) -> Iterable[tuple[Mapping[str, Any], ProfileResult]]:
    """``(record, ProfileResult)`` pairs of a probe log."""
    for rec in records:
        yield rec, ProfileResult.from_dict(dict(rec["result"]))
