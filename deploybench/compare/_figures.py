"""Figures of a comparison (matplotlib Agg canvas, PNG files).

Figures are built with :class:`matplotlib.figure.Figure` on an explicit Agg canvas, so no
pyplot state or display backend is touched.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deploybench.compare._metrics import STATUS_FEASIBLE


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def worst_feasible(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per problem, the worst feasible observed value over all runs (curve fill value)."""
    worst: dict[str, float] = {}
    for row in rows:
        sign = 1.0 if row["direction"] == "maximize" else -1.0
        for status, value in zip(row["statuses"], row["values"]):
            if status == STATUS_FEASIBLE and value is not None:
                current = worst.get(row["problem"])
                if current is None or sign * value < sign * current:
                    worst[row["problem"]] = float(value)
    return worst


def anytime_curves(
    rows: Sequence[Mapping[str, Any]], budget: int, fill: Mapping[str, float]
) -> dict[str, dict[str, np.ndarray]]:
    """problem -> sampler -> (runs x budget) best-feasible-so-far matrix.

    Before the first feasible trial a run takes ``fill[problem]`` (NaN if the problem never
    had a feasible trial).
    """
    out: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if int(row["budget"]) != budget:
            continue
        default = fill.get(row["problem"], math.nan)
        curve = [default if v is None else float(v) for v in row["best_so_far"]]
        curve += [curve[-1] if curve else default] * (budget - len(curve))
        out[row["problem"]][row["sampler"]].append(curve[:budget])
    return {p: {s: np.asarray(c, dtype=float) for s, c in d.items()} for p, d in out.items()}


def _zoom(ax: Any, bands: Sequence[np.ndarray], budget: int) -> None:
    """Limit the y-axis to the range the quartile bands span after the first fifth of the
    budget, so one terrible early value does not flatten every curve."""
    start = budget // 5
    tail = np.concatenate([b[start:] for b in bands]) if bands else np.array([])
    tail = tail[np.isfinite(tail)]
    if tail.size == 0:
        return
    lo, hi = float(tail.min()), float(tail.max())
    margin = 0.05 * (hi - lo) if hi > lo else max(1e-9, 0.05 * abs(hi))
    ax.set_ylim(lo - margin, hi + margin)


def plot_anytime(rows: Sequence[Mapping[str, Any]], budget: int, path: Path) -> Path:
    """Median and inter-quartile band of best feasible so far vs trial, one panel per problem."""
    curves = anytime_curves(rows, budget, worst_feasible(rows))
    problems = list(curves)
    ncols = min(3, max(1, len(problems)))
    nrows = max(1, math.ceil(len(problems) / ncols))
    fig = _figure(5 * ncols, 3.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    x = np.arange(1, budget + 1)
    for ax, problem in zip(axes.flat, problems):
        bands: list[np.ndarray] = []
        for sampler, mat in curves[problem].items():
            med = np.nanmedian(mat, axis=0)
            lo, hi = np.nanquantile(mat, [0.25, 0.75], axis=0)
            (line,) = ax.plot(x, med, label=f"{sampler} (n={mat.shape[0]})")
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2)
            bands += [lo, hi]
        _zoom(ax, bands, budget)
        ax.set_title(problem)
        ax.set_xlabel("trial")
        ax.set_ylabel("best feasible so far")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(problems) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Anytime performance, budget {budget} (median, IQR band; y zoomed to trials "
        f">= {budget // 5 + 1})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_waste(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Mean waste fraction per sampler and problem, one panel per budget."""
    budgets = sorted({int(r["budget"]) for r in rows})
    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    waste: dict[tuple[int, str, str], list[float]] = defaultdict(list)
    for row in rows:
        waste[(int(row["budget"]), row["problem"], row["sampler"])].append(float(row["waste"]))
    fig = _figure(max(6.0, 1.6 * len(problems)), 3.2 * len(budgets))
    axes = fig.subplots(len(budgets), 1, squeeze=False)
    width = 0.8 / max(1, len(samplers))
    for ax, budget in zip(axes[:, 0], budgets):
        for i, sampler in enumerate(samplers):
            heights = [
                float(np.mean(waste[(budget, p, sampler)])) if waste[(budget, p, sampler)] else 0.0
                for p in problems
            ]
            ax.bar(np.arange(len(problems)) + i * width, heights, width, label=sampler)
        ax.set_xticks(np.arange(len(problems)) + 0.4 - width / 2, problems, fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_ylabel("waste (crash+infeasible+pruned)")
        ax.set_title(f"budget {budget}")
        ax.legend(fontsize=7, ncols=min(4, len(samplers)))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
