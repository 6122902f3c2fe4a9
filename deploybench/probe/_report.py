"""Summaries and figures of a boundary probe.

A repeat is *feasible* when the profiler returned ``status == "ok"`` with a p95 at most
the cap (and, when a memory cap is given, a peak memory at most that cap). Crashed or
aborted repeats are infeasible and have no p95; they are counted separately.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deploybench.probe._measure import iter_results
from deploybench.probe._stats import flip_rate, flip_rate_interval, wilson_interval


@dataclasses.dataclass(frozen=True)
class ConfigProbeSummary:
    """Everything measured about one configuration."""

    config_key: str
    zone: str
    n_repeats: int
    n_ok: int
    n_feasible: int
    p95_ms: tuple[float, ...]
    p95_mean_ms: float | None
    p95_sd_ms: float | None
    p95_median_ms: float | None
    distance_to_cap: float | None  # mean p95 / cap - 1
    phi: float
    phi_interval: tuple[float, float]
    flip_rate: float
    flip_interval: tuple[float, float]
    devices: dict[str, int]
    threads: dict[str, int]
    cold_p95_mean_ms: float | None
    warm_p95_mean_ms: float | None
    crash_kinds: dict[str, int]

    @property
    def main_device(self) -> str:
        return max(self.devices, key=lambda d: self.devices[d]) if self.devices else "unknown"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["main_device"] = self.main_device
        return d


def _mean(xs: Sequence[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def summarise_probe(
    records: Sequence[Mapping[str, Any]],
    cap_ms: float,
    *,
    memory_cap_mb: float | None = None,
    level: float = 0.95,
) -> list[ConfigProbeSummary]:
    """Per-configuration statistics of a probe log, ordered by mean p95."""
    if cap_ms <= 0:
        raise ValueError(f"cap_ms must be > 0, got {cap_ms!r}")
    groups: dict[str, list[tuple[Mapping[str, Any], Any]]] = collections.defaultdict(list)
    for rec, result in iter_results(records):
        groups[str(rec["config_key"])].append((rec, result))
    out: list[ConfigProbeSummary] = []
    for key, items in groups.items():
        p95s: list[float] = []
        cold: list[float] = []
        warm: list[float] = []
        feasible = 0
        devices: collections.Counter[str] = collections.Counter()
        threads: collections.Counter[str] = collections.Counter()
        crashes: collections.Counter[str] = collections.Counter()
        for rec, res in items:
            devices[str(res.device_executed or "unknown")] += 1
            threads[f"intra={res.threads_intra},inter={res.threads_inter}"] += 1
            if res.status != "ok" or res.latency_p95_ms is None:
                crashes[str(res.crash_kind or res.status)] += 1
                continue
            p95 = float(res.latency_p95_ms)
            p95s.append(p95)
            (warm if rec.get("start") == "warm" else cold).append(p95)
            mem_ok = (memory_cap_mb is None or res.peak_memory_mb is None
                      or float(res.peak_memory_mb) <= memory_cap_mb)
            feasible += int(p95 <= cap_ms and mem_ok)
        n = len(items)
        mean = _mean(p95s)
        out.append(
            ConfigProbeSummary(
                config_key=key,
                zone=str(items[0][0].get("zone", "")),
                n_repeats=n,
                n_ok=len(p95s),
                n_feasible=feasible,
                p95_ms=tuple(p95s),
                p95_mean_ms=mean,
                p95_sd_ms=float(np.std(p95s, ddof=1)) if len(p95s) > 1 else None,
                p95_median_ms=float(np.median(p95s)) if p95s else None,
                distance_to_cap=None if mean is None else mean / cap_ms - 1.0,
                phi=feasible / n,
                phi_interval=wilson_interval(feasible, n, level),
                flip_rate=flip_rate(feasible, n),
                flip_interval=flip_rate_interval(feasible, n, level),
                devices=dict(devices),
                threads=dict(threads),
                cold_p95_mean_ms=_mean(cold),
                warm_p95_mean_ms=_mean(warm),
                crash_kinds=dict(crashes),
            )
        )
    out.sort(key=lambda s: (s.p95_mean_ms is None, s.p95_mean_ms or 0.0, s.config_key))
    return out


def pooled(summaries: Sequence[ConfigProbeSummary], zones: Sequence[str] | None = None
           ) -> dict[str, Any]:
    """Pooled flip rate over the repeats of the given zones (all when None)."""
    chosen = [s for s in summaries if zones is None or s.zone in zones]
    n = sum(s.n_repeats for s in chosen)
    minority = sum(min(s.n_feasible, s.n_repeats - s.n_feasible) for s in chosen)
    if n == 0:
        return {"zones": list(zones or []), "n_repeats": 0}
    return {
        "zones": list(zones) if zones is not None else "all",
        "n_configs": len(chosen),
        "n_repeats": n,
        "minority_repeats": minority,
        "pooled_flip_rate": minority / n,
        "pooled_flip_interval": wilson_interval(minority, n),
    }


def write_summary(path: str | os.PathLike[str], summaries: Sequence[ConfigProbeSummary],
                  header: Mapping[str, Any], memory_cap_mb: float | None = None) -> Path:
    """Write the JSON summary of a probe."""
    path = Path(path)
    doc = {
        "cap_ms": header.get("cap_ms"),
        "memory_cap_mb": memory_cap_mb,
        "settings": header.get("settings"),
        "repeats_requested": header.get("repeats"),
        "seed": header.get("seed"),
        "configs": [s.to_dict() for s in summaries],
        "pooled_all": pooled(summaries),
        "pooled_gray": pooled(summaries, ["gray"]),
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def plot_p95(summaries: Sequence[ConfigProbeSummary], cap_ms: float,
             path: str | os.PathLike[str], title: str = "") -> Path:
    """Box + jittered strip plot of p95 per configuration, with the cap."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in summaries if s.p95_ms]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(shown) + 2), 4.8))
    rng = np.random.default_rng(0)
    if shown:
        ax.boxplot([list(s.p95_ms) for s in shown], positions=range(len(shown)), widths=0.5,
                   showfliers=False)
        for i, s in enumerate(shown):
            ax.scatter(i + rng.uniform(-0.18, 0.18, len(s.p95_ms)), s.p95_ms, s=12, alpha=0.6,
                       color="tab:green" if s.phi >= 0.5 else "tab:red", zorder=3)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([f"{s.config_key}\nphi={s.phi:.2f}" for s in shown], rotation=60,
                           ha="right", fontsize=7)
    ax.axhline(cap_ms, color="black", linestyle="--", label=f"cap {cap_ms:g} ms")
    ax.set_ylabel("p95 latency per repeat (ms)")
    ax.set_title(title or "Boundary probe: p95 per repeat (green: majority feasible)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_flip(summaries: Sequence[ConfigProbeSummary], path: str | os.PathLike[str],
              margin: float = 0.1, title: str = "") -> Path:
    """Flip rate (Wilson 95 % bars) against mean p95 / cap - 1, coloured by device."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    devices = sorted({s.main_device for s in summaries})
    colours = dict(zip(devices, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for dev in devices:
        pts = [s for s in summaries if s.main_device == dev and s.distance_to_cap is not None]
        if not pts:
            continue
        x = np.array([s.distance_to_cap for s in pts], dtype=float)
        y = np.array([s.flip_rate for s in pts])
        err = np.array([[s.flip_rate - s.flip_interval[0] for s in pts],
                        [s.flip_interval[1] - s.flip_rate for s in pts]])
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, color=colours.get(dev), label=dev)
    ax.axvspan(-margin, margin, color="grey", alpha=0.15, label=f"gray zone (±{margin:g})")
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("mean p95 / cap - 1")
    ax.set_ylabel("flip rate min(phi, 1 - phi)")
    ax.set_ylim(-0.02, 0.55)
    ax.set_title(title or "Flip rate vs distance to the cap (device executed)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def format_table(summaries: Sequence[ConfigProbeSummary]) -> str:
    """A plain-text table of the summaries."""
    lines = [f"{'config':42s} {'zone':15s} {'n':>3s} {'p95 mean±sd ms':>17s} {'phi':>5s} "
             f"{'flip [95% CI]':>18s} device"]
    for s in summaries:
        p95 = "-" if s.p95_mean_ms is None else f"{s.p95_mean_ms:.2f}±{(s.p95_sd_ms or 0):.2f}"
        lines.append(
            f"{s.config_key:42s} {s.zone:15s} {s.n_repeats:3d} {p95:>17s} {s.phi:5.2f} "
            f"{s.flip_rate:.2f} [{s.flip_interval[0]:.2f},{s.flip_interval[1]:.2f}] "
            f"{s.main_device}"
        )
    return "\n".join(lines)
