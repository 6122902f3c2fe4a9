"""Sweep a grid of deployment configurations with a profiler, resumably.

The sweep is ordered *repeat-major*: every configuration is measured once (repeat 0)
before any is measured a second time. Repeats of one configuration are therefore
spread over the whole recording instead of back to back, so slow drifts of the
machine (thermal state, other jobs) are shared fairly between configurations.
Within a repeat, configurations follow a fixed seeded permutation of the grid, so a
partial recording covers the whole space evenly instead of the first models only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.metadata
import os
import platform
import socket
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings
from deploybench.tables._format import save_table
from deploybench.tables._load import LoadMeter, QuietPolicy, probe_other_load
from deploybench.tables._recording import RecordingContents, RecordingWriter, make_header
from deploybench.tables._space import Grid

ProfileFn = Callable[[DeployConfig, ProfileSettings], ProfileResult]
DEFAULT_PROFILER = "deploybench.profiling:profile"
_VERSIONED = ("python", "optuna", "torch", "torchvision", "onnx", "onnxruntime", "numpy")


def resolve_profiler(spec: str = DEFAULT_PROFILER) -> ProfileFn:
    """Import a profiler given as ``module:function``.

    Raises:
        ValueError: Malformed spec, or the module/function cannot be imported.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"profiler must look like 'module:function', got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import profiler module {module_name!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise ValueError(f"{module_name!r} has no callable {attr!r} (profiler {spec!r})")
    return fn  # type: ignore[no-any-return]


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that shape measurements (without importing them)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _VERSIONED[1:]:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def hostname_hash() -> str:
    """First 12 hex digits of the SHA-256 of the host name (identifies, does not reveal)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:12]


def machine_provenance() -> dict[str, Any]:
    """Where the table is recorded: host, platform, CPU, cores."""
    return {
        "hostname_sha256_12": hostname_hash(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
    }


def default_provenance(note: str | None = None, profiler: str = DEFAULT_PROFILER
                       ) -> dict[str, Any]:
    """Table-level provenance written into the recording header."""
    prov: dict[str, Any] = {
        "machine": machine_provenance(),
        "versions": library_versions(),
        "profiler": profiler,
        "order": "repeat-major (all configs for repeat 0, then repeat 1, ...); configs in a "
        "seeded permutation (order_seed 0)",
    }
    if note:
        prov["note"] = note
    return prov


def sweep_order(
    configs: Sequence[DeployConfig],
    repeats: int,
    done: Iterable[tuple[str, int]] = (),
    order_seed: int | None = 0,
    first: Callable[[DeployConfig], bool] | None = None,
) -> list[tuple[DeployConfig, int]]:
    """The (config, repeat) pairs still to measure, repeat-major.

    Args:
        configs: The grid, in its stable order.
        repeats: Number of repeats per configuration (>= 1).
        done: Pairs ``(config.key(), repeat)`` already recorded (skipped).
        order_seed: Seed of the permutation of ``configs`` used within every repeat
            (the same permutation for all repeats); None keeps the grid order.
        first: Optional predicate; the pairs of matching configurations (all their
            repeats, still repeat-major) come before all other pairs.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    ordered = list(configs)
    if order_seed is not None:
        perm = np.random.default_rng(order_seed).permutation(len(ordered))
        ordered = [ordered[int(i)] for i in perm]
    skip = set(done)
    pairs = [(c, r) for r in range(repeats) for c in ordered if (c.key(), r) not in skip]
    if first is None:
        return pairs
    # Stable partition: every repeat of the prioritised configurations, then the rest.
    return [p for p in pairs if first(p[0])] + [p for p in pairs if not first(p[0])]


def parse_priority(items: Sequence[str]) -> Callable[[DeployConfig], bool] | None:
    """Parse ``FIELD=V1,V2`` items into a predicate (all items must match).

    Fields are :class:`DeployConfig` fields (``model``, ``backend``, ``precision``,
    ``batch_size``, ``threads``). Values are compared as text, so ``batch_size=1,2``
    works.

    Raises:
        ValueError: Malformed item or unknown field.
    """
    if not items:
        return None
    fields = set(DeployConfig.__dataclass_fields__)
    wanted: dict[str, set[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"priority must look like FIELD=V1,V2, got {item!r}")
        if name not in fields:
            raise ValueError(f"unknown configuration field {name!r}; choose from "
                             f"{sorted(fields)}")
        wanted.setdefault(name, set()).update(v.strip() for v in values.split(","))

    def matches(config: DeployConfig) -> bool:
        d = config.to_dict()
        return all(str(d.get(k)) in vs for k, vs in wanted.items())

    return matches


def safe_profile(profile_fn: ProfileFn, config: DeployConfig,
                 settings: ProfileSettings) -> ProfileResult:
    """Call the profiler; an exception becomes a crash row (crashes are data).

    The result's provenance gets ``other_load_cores`` (see
    :mod:`deploybench.tables._load`): how busy the rest of the machine was meanwhile.
    """
    meter = LoadMeter().start()
    result = _call_profiler(profile_fn, config, settings)
    result.provenance["other_load_cores"] = meter.other_load_cores()
    return result


def quiet_profile(profile_fn: ProfileFn, config: DeployConfig, settings: ProfileSettings,
                  quiet: QuietPolicy,
                  probe: Callable[[float], float | None] = probe_other_load,
                  on_wait: Callable[[str], None] | None = None) -> ProfileResult:
    """:func:`safe_profile` under a :class:`QuietPolicy`: wait for a quiet machine,
    and take the measurement again while other processes loaded it meanwhile."""
    def waiting(load: float) -> None:
        if on_wait is not None:
            on_wait(f"waiting for a quiet machine (other load {load:.2f} cores)")

    attempt = 0
    while True:
        quiet.wait(probe, waiting)
        result = safe_profile(profile_fn, config, settings)
        load = result.provenance.get("other_load_cores")
        if quiet.is_quiet(load) or attempt >= quiet.retries:
            return result
        attempt += 1
        if on_wait is not None:
            on_wait(f"discarded a measurement taken under {load:.2f} cores of other load")


def _postfix_writer(bar: Any, status: str) -> Callable[[str], None]:
    def write(msg: str) -> None:
        bar.set_postfix_str(f"{status}: {msg}")

    return write


def _call_profiler(profile_fn: ProfileFn, config: DeployConfig,
                   settings: ProfileSettings) -> ProfileResult:
    try:
        result = profile_fn(config, settings)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # any failure is a recorded crash
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return ProfileResult(config=config, status="crash", crash_kind="error",
                             crash_message=f"profiler raised: {tb}")
    if not isinstance(result, ProfileResult):
        return ProfileResult(config=config, status="crash", crash_kind="error",
                             crash_message=f"profiler returned {type(result).__name__}")
    if result.config != config:
        result.config = config  # the key under which the row is stored is the asked config
    return result


def record(
    path: str | os.PathLike[str],
    grid: Grid,
    settings: ProfileSettings,
    repeats: int,
    profile_fn: ProfileFn,
    *,
    provenance: Mapping[str, Any] | None = None,
    compact_to: str | os.PathLike[str] | None = None,
    compact_every: int = 20,
    progress: bool = True,
    max_rows: int | None = None,
    first: Callable[[DeployConfig], bool] | None = None,
    session_info: Mapping[str, Any] | None = None,
    quiet: QuietPolicy | None = None,
    load_probe: Callable[[float], float | None] = probe_other_load,
) -> RecordingContents:
    """Record (or resume recording) ``grid`` x ``repeats`` into ``path``.

    Args:
        path: The JSONL recording; created, or resumed when it exists (same grid and
            settings required).
        grid: Configurations to measure.
        settings: Profile settings (stored in the header).
        repeats: Repeats per configuration; raising it later extends the recording.
        profile_fn: ``profile_fn(config, settings) -> ProfileResult``.
        provenance: Header provenance for a new file (ignored when resuming).
        compact_to: If given, the compressed table is rewritten every
            ``compact_every`` rows and at the end.
        compact_every: Rows between compactions (>= 1).
        progress: Show a tqdm bar with ETA.
        max_rows: Stop after this many new rows (None: until done).
        first: Optional predicate; matching configurations get all their repeats
            before any other configuration is measured (see :func:`sweep_order`).
        session_info: Extra fields for this session's marker line (e.g. the priority
            used), so the recording tells in what order its rows were taken.
        quiet: If given, measure only while other processes leave the machine quiet
            (see :class:`~deploybench.tables._load.QuietPolicy`); recorded in the
            session marker.
        load_probe: ``probe(seconds) -> other load in cores`` used by ``quiet``
            (tests replace it).

    Returns:
        The recording contents after the sweep.
    """
    if compact_every < 1:
        raise ValueError(f"compact_every must be >= 1, got {compact_every}")
    header = make_header(grid, settings.to_dict(), provenance or default_provenance())
    if quiet is not None:
        session_info = {**(session_info or {}), "quiet": dataclasses.asdict(quiet)}
    writer = RecordingWriter(path, header, session_info)
    try:
        todo = sweep_order(grid.configs(), repeats, writer.contents.done(), first=first)
        if max_rows is not None:
            todo = todo[: max(0, max_rows)]
        bar = tqdm(todo, desc=f"record {Path(path).name}", unit="eval", disable=not progress,
                   dynamic_ncols=True)
        for n, (config, repeat) in enumerate(bar, start=1):
            status = f"r{repeat} {config.key()}"
            bar.set_postfix_str(status, refresh=False)
            if quiet is None:
                result = safe_profile(profile_fn, config, settings)
            else:
                result = quiet_profile(profile_fn, config, settings, quiet, load_probe,
                                       _postfix_writer(bar, status))
            writer.append(result, repeat)
            if compact_to is not None and n % compact_every == 0:
                save_table(writer.contents.to_table(), compact_to)
        bar.close()
        if compact_to is not None:
            save_table(writer.contents.to_table(), compact_to)
        return writer.contents
    finally:
        writer.close()
