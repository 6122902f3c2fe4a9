"""Text summary and figures for a deployment study (matplotlib, Agg, no display)."""

from __future__ import annotations

import os
from typing import Any

import optuna

from deploybench.deployment.scenarios import MEMORY_KEY, Scenario

_COLUMNS = ("#", "model", "backend", "prec", "bs", "thr", "outcome", "lat ms", "mem MB", "value",
            "acc src", "device")


def trial_outcome(t: optuna.trial.FrozenTrial) -> str:
    """``feasible``, ``infeasible``, ``aborted`` or ``crash:<kind>``."""
    if t.state != optuna.trial.TrialState.COMPLETE:
        return f"crash:{t.user_attrs.get('crash_kind', t.state.name.lower())}"
    if t.user_attrs.get("aborted_early"):
        return "aborted"
    return "feasible" if t.user_attrs.get("feasible") else "infeasible"


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def summary_rows(study: optuna.Study, scenario: Scenario) -> list[list[str]]:
    """One row per finished trial (the table printed by ``deploybench optimize``)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if not t.state.is_finished():
            continue
        ua, p = t.user_attrs, t.params
        lat_key = "warmup_latency_ms" if ua.get("aborted_early") else scenario.latency_key
        lat = ua.get(lat_key)
        value = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        rows.append([
            str(t.number), _fmt(p.get("model")), _fmt(p.get("backend")), _fmt(p.get("precision")),
            _fmt(p.get("batch_size")), _fmt(p.get("threads")), trial_outcome(t), _fmt(lat),
            _fmt(ua.get("peak_memory_mb"), 0), _fmt(value, 4), _fmt(ua.get("accuracy_source")),
            _fmt(ua.get("device_executed")),
        ])
    return rows


def format_table(study: optuna.Study, scenario: Scenario) -> str:
    """A fixed-width text table of all finished trials."""
    rows = [list(_COLUMNS), *summary_rows(study, scenario)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def save_figures(study: optuna.Study, scenario: Scenario, out_dir: str) -> list[str]:
    """``history.png`` (value per trial and best feasible so far) and ``feasibility.png``
    (latency vs memory of every measured trial with the caps). Returns the paths."""
    from matplotlib.figure import Figure

    os.makedirs(out_dir, exist_ok=True)
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    colors = {"feasible": "tab:green", "infeasible": "tab:orange", "aborted": "tab:purple"}
    paths = []

    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    best, xs, ys = None, [], []
    for t in trials:
        out = trial_outcome(t)
        if t.value is not None and out in colors:
            ax.scatter(t.number, t.value, color=colors[out], s=25, label=out)
        else:
            ax.axvline(t.number, color="tab:red", alpha=0.25, lw=3, label="crash")
        if out == "feasible" and t.value is not None:
            best = t.value if best is None else max(best, t.value)
        if best is not None:
            xs.append(t.number)
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="black", marker="_", ms=12, label="best feasible")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8)
    ax.set_xlabel("trial")
    ax.set_ylabel(scenario.objective)
    ax.set_title(f"{study.study_name}: history ({scenario.name})")
    path = os.path.join(out_dir, "history.png")
    fig.savefig(path, dpi=120)
    paths.append(path)

    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.add_subplot()
    for t in trials:
        out = trial_outcome(t)
        ua = t.user_attrs
        lat = ua.get("warmup_latency_ms") if out == "aborted" else ua.get(scenario.latency_key)
        mem = ua.get("peak_memory_mb")
        if out in colors and lat is not None and mem is not None:
            ax.scatter(lat, mem, color=colors[out], s=30, label=out,
                       marker="x" if out == "aborted" else "o")
    ax.axvline(scenario.latency_cap_ms, color="gray", ls="--", label=f"{scenario.latency_key} cap")
    ax.axhline(scenario.memory_cap_mb, color="gray", ls=":", label=f"{MEMORY_KEY} cap")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{scenario.latency_key} (aborted: warm-up median)")
    ax.set_ylabel("peak memory above baseline (MB)")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), fontsize=8)
    ax.set_title("feasibility: latency vs memory (crashes not shown)")
    path = os.path.join(out_dir, "feasibility.png")
    fig.savefig(path, dpi=120)
    paths.append(path)
    return paths
