"""Choose configurations around a latency cap for a boundary probe.

Each candidate carries one p95 estimate. With ``r = p95 / cap`` and a gray-zone
``margin`` (default 0.1) and a ``near_width`` (default 0.2) the zones are::

    deep_feasible     r <  1 - margin - near_width
    near_feasible     1 - margin - near_width <= r < 1 - margin
    gray              |r - 1| <= margin
    near_infeasible   1 + margin < r <= 1 + margin + near_width
    deep_infeasible   r >  1 + margin + near_width

The deep zones are controls: their verdict should never flip. Selection is random
within each zone but deterministic given the seed (candidates are sorted by
configuration key first, so the input order does not matter).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.profiling._types import DeployConfig

ZONES: tuple[str, ...] = (
    "deep_feasible",
    "near_feasible",
    "gray",
    "near_infeasible",
    "deep_infeasible",
)
DEFAULT_ZONE_SIZES: dict[str, int] = {
    "deep_feasible": 1,
    "near_feasible": 2,
    "gray": 4,
    "near_infeasible": 2,
    "deep_infeasible": 1,
}
#: Parameter names accepted for the precision when building a config from trial params.
_PRECISION_NAMES = ("precision", "quant", "quantization")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A configuration with a prior p95 estimate (from a study, a table or a file)."""

    config: DeployConfig
    p95_ms: float
    source: str
    n_observations: int = 1


@dataclasses.dataclass(frozen=True)
class Selected:
    """A candidate placed in a zone."""

    candidate: Candidate
    zone: str
    ratio: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.candidate.config.to_dict(),
            "config_key": self.candidate.config.key(),
            "prior_p95_ms": self.candidate.p95_ms,
            "prior_observations": self.candidate.n_observations,
            "source": self.candidate.source,
            "zone": self.zone,
            "prior_ratio": self.ratio,
        }


@dataclasses.dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_candidates`."""

    selected: tuple[Selected, ...]
    available: dict[str, int]  # candidates per zone
    shortfall: dict[str, int]  # requested minus selected, where positive


def assign_zone(ratio: float, margin: float = 0.1, near_width: float = 0.2) -> str:
    """The zone of a configuration whose p95 is ``ratio`` times the cap."""
    if not math.isfinite(ratio) or ratio < 0:
        raise ValueError(f"ratio must be a finite non-negative number, got {ratio!r}")
    _check_widths(margin, near_width)
    eps = 1e-9  # zone edges are inclusive despite floating-point rounding (1.1 - 1 > 0.1)
    if abs(ratio - 1.0) <= margin + eps:
        return "gray"
    if ratio < 1.0:
        return "near_feasible" if ratio >= 1.0 - margin - near_width - eps else "deep_feasible"
    return "near_infeasible" if ratio <= 1.0 + margin + near_width + eps else "deep_infeasible"


def _check_widths(margin: float, near_width: float) -> None:
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin!r}")
    if not near_width > 0.0:
        raise ValueError(f"near_width must be > 0, got {near_width!r}")


def parse_zone_sizes(text: str) -> dict[str, int]:
    """Parse ``"gray=4,near_feasible=2"`` (unnamed zones keep their default size)."""
    sizes = dict(DEFAULT_ZONE_SIZES)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in ZONES:
            raise ValueError(
                f"zone sizes must look like 'gray=4,...' with zones {', '.join(ZONES)}; "
                f"got {item!r}"
            )
        try:
            size = int(value)
        except ValueError:
            raise ValueError(f"zone size for {name!r} must be an integer, got {value!r}") from None
        if size < 0:
            raise ValueError(f"zone size for {name!r} must be >= 0, got {size}")
        sizes[name] = size
    return sizes


def merge_candidates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Merge candidates of the same configuration (median p95), sorted by key."""
    by_key: dict[str, list[Candidate]] = {}
    for cand in candidates:
        if not math.isfinite(cand.p95_ms) or cand.p95_ms < 0:
            continue
        by_key.setdefault(cand.config.key(), []).append(cand)
    merged: list[Candidate] = []
    for key in sorted(by_key):
        group = by_key[key]
        merged.append(
            Candidate(
                config=group[0].config,
                p95_ms=float(np.median([c.p95_ms for c in group])),
                source=group[0].source,
                n_observations=sum(c.n_observations for c in group),
            )
        )
    return merged


def select_candidates(
    candidates: Iterable[Candidate],
    cap_ms: float,
    sizes: Mapping[str, int] | None = None,
    *,
    margin: float = 0.1,
    near_width: float = 0.2,
    seed: int = 0,
) -> Selection:
    """Pick up to ``sizes[zone]`` configurations per zone, deterministically given ``seed``.

    Args:
        candidates: Configurations with a p95 estimate (duplicates are merged).
        cap_ms: The latency cap the zones refer to.
        sizes: Configurations wanted per zone (default :data:`DEFAULT_ZONE_SIZES`).
        margin: Half-width of the gray zone, relative to the cap.
        near_width: Width of each near zone, relative to the cap.
        seed: Seeds the choice within each zone.
    """
    if not math.isfinite(cap_ms) or cap_ms <= 0:
        raise ValueError(f"cap_ms must be a positive number, got {cap_ms!r}")
    _check_widths(margin, near_width)
    wanted = dict(DEFAULT_ZONE_SIZES if sizes is None else sizes)
    unknown = set(wanted) - set(ZONES)
    if unknown:
        raise ValueError(f"unknown zone(s) {sorted(unknown)}; zones are {', '.join(ZONES)}")
    pools: dict[str, list[Selected]] = {zone: [] for zone in ZONES}
    for cand in merge_candidates(candidates):
        ratio = cand.p95_ms / cap_ms
        zone = assign_zone(ratio, margin, near_width)
        pools[zone].append(Selected(cand, zone, ratio))
    rng = np.random.default_rng(seed)
    chosen: list[Selected] = []
    shortfall: dict[str, int] = {}
    for zone in ZONES:
        pool, want = pools[zone], int(wanted.get(zone, 0))
        if want <= 0:
            continue
        if len(pool) <= want:
            picked = list(pool)
            if len(pool) < want:
                shortfall[zone] = want - len(pool)
        else:
            idx = sorted(rng.choice(len(pool), size=want, replace=False).tolist())
            picked = [pool[i] for i in idx]
        chosen.extend(sorted(picked, key=lambda s: s.ratio))
    return Selection(tuple(chosen), {z: len(p) for z, p in pools.items()}, shortfall)


# -- candidate sources -------------------------------------------------------------
def config_from_params(params: Mapping[str, Any]) -> DeployConfig:
    """Build a :class:`DeployConfig` from trial parameters (or a config dict)."""
    precision = next((params[n] for n in _PRECISION_NAMES if n in params), None)
    missing = [n for n in ("model", "backend", "batch_size") if n not in params]
    if precision is None:
        missing.append("precision")
    if missing:
        raise ValueError(f"cannot build a deployment config: missing {', '.join(missing)}")
    threads = params.get("threads", params.get("num_threads"))
    return DeployConfig(
        model=str(params["model"]),
        backend=str(params["backend"]),
        precision=str(precision).removesuffix("_dynamic"),
        batch_size=int(params["batch_size"]),
        threads=None if threads is None else int(threads),
    )


def candidates_from_study(
    storage: str, study_name: str, p95_attr: str = "latency_p95_ms"
) -> list[Candidate]:
    """Candidates from the ``COMPLETE`` trials of a finished study.

    The p95 is read from the user attribute ``p95_attr``; the configuration from the user
    attribute ``config`` when present, else from the parameters (``model``, ``backend``,
    ``precision``/``quant``, ``batch_size``, ``threads``).
    """
    import optuna

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise ValueError(f"no study named {study_name!r} in {storage}") from None
    out: list[Candidate] = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        p95 = trial.user_attrs.get(p95_attr)
        if p95 is None:
            continue
        raw = trial.user_attrs.get("config")
        config = config_from_params(raw if isinstance(raw, Mapping) else trial.params)
        out.append(Candidate(config, float(p95), f"study:{study_name}#{trial.number}"))
    if not out:
        raise ValueError(
            f"study {study_name!r} has no COMPLETE trial with user attribute {p95_attr!r}"
        )
    return out


def candidates_from_table(path: str | os.PathLike[str]) -> list[Candidate]:
    """Candidates from a recorded table: the median p95 of each configuration's ok repeats."""
    from deploybench.tables._format import load_table

    table = load_table(path)
    out: list[Candidate] = []
    for key in sorted(table.records):
        rec = table.records[key]
        p95s = [r.latency_p95_ms for r in rec.repeats
                if r.status == "ok" and r.latency_p95_ms is not None]
        if p95s:
            out.append(Candidate(rec.config, float(np.median(p95s)), f"table:{Path(path).name}",
                                 len(p95s)))
    if not out:
        raise ValueError(f"table {path} has no configuration with a measured p95")
    return out


def candidates_from_json(path: str | os.PathLike[str]) -> list[Candidate]:
    """Candidates from a JSON list of ``{"config": {...}, "latency_p95_ms": x}`` objects.

    The config fields may also be given at the top level of each object, and the p95
    as ``p95_ms``.
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"configs file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path} must hold a non-empty JSON list of configurations")
    out: list[Candidate] = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ValueError(f"{path} entry {i} is not an object")
        raw = item.get("config", item)
        p95 = item.get("latency_p95_ms", item.get("p95_ms"))
        if p95 is None:
            raise ValueError(f"{path} entry {i} has no 'latency_p95_ms' (or 'p95_ms')")
        try:
            config = config_from_params(raw)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} entry {i}: {exc}") from None
        out.append(Candidate(config, float(p95), f"file:{Path(path).name}"))
    return out


def candidates_from_probe_log(path: str | os.PathLike[str]) -> list[Candidate]:
    """Candidates from an earlier probe's ``repeats.jsonl``: median p95 of the ok repeats.

    Useful to re-probe the same configurations around a different cap.
    """
    from deploybench.probe._measure import read_probe_log

    _, records = read_probe_log(path)
    p95s: dict[str, list[float]] = {}
    configs: dict[str, DeployConfig] = {}
    for rec in records:
        result = rec.get("result", {})
        config = DeployConfig.from_dict(dict(rec["config"]))
        configs[config.key()] = config
        if result.get("status") == "ok" and result.get("latency_p95_ms") is not None:
            p95s.setdefault(config.key(), []).append(float(result["latency_p95_ms"]))
    out = [Candidate(configs[k], float(np.median(v)), f"probe:{Path(path).parent.name}", len(v))
           for k, v in sorted(p95s.items())]
    if not out:
        raise ValueError(f"probe log {path} has no successful repeat")
    return out


def describe(selection: Selection) -> list[str]:
    """Human-readable lines describing a selection."""
    lines = [f"{s.zone:16s} {s.candidate.config.key():45s} prior p95/cap {s.ratio:.3f}"
             for s in selection.selected]
    for zone, missing in selection.shortfall.items():
        lines.append(f"note: zone {zone} had only {selection.available[zone]} candidate(s), "
                     f"{missing} fewer than requested")
    return lines


def selected_from_dicts(items: Sequence[Mapping[str, Any]]) -> list[Selected]:
    """Rebuild :class:`Selected` objects from :meth:`Selected.to_dict` output."""
    return [
        Selected(
            Candidate(DeployConfig.from_dict(dict(d["config"])), float(d["prior_p95_ms"]),
                      str(d.get("source", "")), int(d.get("prior_observations", 1))),
            str(d["zone"]),
            float(d["prior_ratio"]),
        )
        for d in items
    ]
