"""Aggregate result rows: regret statistics, ranks and paired tests per sampler."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from deploybench.compare._metrics import STATUS_FEASIBLE, normalised_regret

#: Label of the pooled row in the Wilcoxon tests (all problems of one budget).
ALL_PROBLEMS = "(all)"


def fallback_references(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """``f_ref`` for problems without one: median feasible observed value over all runs."""
    pooled: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.get("reference") is None:
            for status, value in zip(row["statuses"], row["values"]):
                if status == STATUS_FEASIBLE and value is not None:
                    pooled[row["problem"]].append(float(value))
    return {name: float(np.median(vals)) for name, vals in pooled.items() if vals}


def row_regret(row: Mapping[str, Any], fallback: Mapping[str, float]) -> float:
    """Normalised regret of a row, using the fallback reference when it has none."""
    reference = row.get("reference")
    if reference is None:
        reference = fallback.get(row["problem"])
    if reference is None or not (
        (reference < row["oracle"])
        if row["direction"] == "maximize"
        else (reference > row["oracle"])
    ):
        return 1.0 if row.get("score") is None else 0.0
    return normalised_regret(row.get("score"), row["oracle"], reference, row["direction"])


def bootstrap_mean_ci(values: Sequence[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap CI of the mean (degenerate samples give a zero-width CI)."""
    data = np.asarray(values, dtype=float)
    if data.size < 2 or float(np.ptp(data)) == 0.0:
        mean = float(np.mean(data)) if data.size else math.nan
        return mean, mean
    res = stats.bootstrap(
        (data,),
        np.mean,
        confidence_level=0.95,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_wilcoxon(a: ArrayLike, b: ArrayLike) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value of paired samples (1.0 if all pairs tie)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.size == 0:
        return None
    if np.all(x == y):
        return 1.0
    return float(stats.wilcoxon(x, y, zero_method="wilcox").pvalue)


@dataclasses.dataclass
class Summary:
    """Everything ``summary.json`` holds.

    ``cells``: one dict per sampler x problem x budget; ``ranks``: mean rank per sampler and
    budget (and ``"all"``); ``tests``: paired Wilcoxon of each sampler vs ``reference``.
    """

    reference: str | None
    samplers: list[str]
    problems: list[str]
    budgets: list[int]
    cells: list[dict[str, Any]]
    ranks: dict[str, dict[str, float]]
    tests: list[dict[str, Any]]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _quantile(values: Sequence[float], q: float) -> float | None:
    return float(np.quantile(np.asarray(values, dtype=float), q)) if values else None


def summarise(rows: Iterable[Mapping[str, Any]], reference: str | None = None) -> Summary:
    """Aggregate rows (one per run). ``reference`` must be a sampler label or None."""
    rows = list(rows)
    fallback = fallback_references(rows)
    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    budgets = sorted({int(r["budget"]) for r in rows})
    if reference is not None and reference not in samplers:
        raise ValueError(f"reference sampler {reference!r} has no runs; have {samplers}")
    groups: dict[tuple[str, str, int], dict[int, Mapping[str, Any]]] = defaultdict(dict)
    regret: dict[tuple[str, str, int], dict[int, float]] = defaultdict(dict)
    for row in rows:
        key = (row["sampler"], row["problem"], int(row["budget"]))
        groups[key][int(row["seed"])] = row
        regret[key][int(row["seed"])] = row_regret(row, fallback)
    notes = [
        f"{name}: no per-problem reference; f_ref = median feasible observed value "
        f"over all runs ({value:.6g})"
        for name, value in fallback.items()
    ]
    cells: list[dict[str, Any]] = []
    for (sampler, problem, budget), by_seed in groups.items():
        reg = [regret[(sampler, problem, budget)][s] for s in sorted(by_seed)]
        runs = [by_seed[s] for s in sorted(by_seed)]
        low, high = bootstrap_mean_ci(reg)
        firsts = [r["first_feasible"] for r in runs]
        found = [f for f in firsts if f is not None]
        hits = [r["oracle_hit"] for r in runs if r.get("oracle_hit") is not None]
        rec = [
            r["recommended_feasibility"]
            for r in runs
            if r.get("recommended_feasibility") is not None
        ]
        cells.append(
            {
                "sampler": sampler,
                "problem": problem,
                "budget": budget,
                "n_runs": len(runs),
                "regret_median": float(np.median(reg)),
                "regret_q25": _quantile(reg, 0.25),
                "regret_q75": _quantile(reg, 0.75),
                "regret_mean": float(np.mean(reg)),
                "regret_ci_low": low,
                "regret_ci_high": high,
                "score_median": _quantile(
                    [r["score"] for r in runs if r["score"] is not None], 0.5
                ),
                "feasible_found_rate": len(found) / len(runs),
                "first_feasible_median": _quantile(found, 0.5),
                "waste_mean": float(np.mean([r["waste"] for r in runs])),
                "duplicate_mean": float(np.mean([r["duplicate_fraction"] for r in runs])),
                "overhead_ms_median": float(np.median([r["overhead_ms_per_trial"] for r in runs])),
                "oracle_hit_rate": float(np.mean(hits)) if hits else None,
                "recommended_feasibility_mean": float(np.mean(rec)) if rec else None,
                "n_errors": int(sum(r.get("n_errors", 0) for r in runs)),
            }
        )
    cells.sort(
        key=lambda c: (c["budget"], problems.index(c["problem"]), samplers.index(c["sampler"]))
    )
    ranks = _mean_ranks(cells, samplers, budgets)
    tests = _tests(regret, samplers, problems, budgets, reference) if reference else []
    return Summary(reference, samplers, problems, budgets, cells, ranks, tests, notes)


def _mean_ranks(
    cells: Sequence[Mapping[str, Any]], samplers: Sequence[str], budgets: Sequence[int]
) -> dict[str, dict[str, float]]:
    """Rank samplers by mean regret per problem x budget (1 = best, ties averaged)."""
    per: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for cell in cells:
        per[(cell["problem"], cell["budget"])][cell["sampler"]] = cell["regret_mean"]
    collected: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (_, budget), means in per.items():
        names = list(means)
        ranked = stats.rankdata([means[n] for n in names])
        for name, rank in zip(names, ranked):
            collected[name][str(budget)].append(float(rank))
            collected[name]["all"].append(float(rank))
    return {s: {b: float(np.mean(v)) for b, v in collected[s].items()} for s in samplers}


def _tests(
    regret: Mapping[tuple[str, str, int], Mapping[int, float]],
    samplers: Sequence[str],
    problems: Sequence[str],
    budgets: Sequence[int],
    reference: str,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for budget in budgets:
        for sampler in samplers:
            if sampler == reference:
                continue
            pooled_a: list[float] = []
            pooled_b: list[float] = []
            for problem in [*problems, ALL_PROBLEMS]:
                if problem == ALL_PROBLEMS:
                    a, b = pooled_a, pooled_b
                else:
                    mine = regret.get((sampler, problem, budget), {})
                    ref = regret.get((reference, problem, budget), {})
                    seeds = sorted(set(mine) & set(ref))
                    a = [mine[s] for s in seeds]
                    b = [ref[s] for s in seeds]
                    pooled_a += a
                    pooled_b += b
                if not a:
                    continue
                diff = np.asarray(a) - np.asarray(b)
                out.append(
                    {
                        "sampler": sampler,
                        "reference": reference,
                        "problem": problem,
                        "budget": budget,
                        "n_pairs": len(a),
                        "wins": int(np.sum(diff < 0)),
                        "losses": int(np.sum(diff > 0)),
                        "ties": int(np.sum(diff == 0)),
                        "median_diff": float(np.median(diff)),
                        "p_value": paired_wilcoxon(a, b),
                    }
                )
    return out


def _fmt(value: float | None, digits: int = 3) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def render_markdown(summary: Summary) -> str:
    """Plain markdown tables (readable as text too)."""
    lines: list[str] = []
    for budget in summary.budgets:
        lines += [
            f"### Budget {budget}",
            "",
            "| problem | sampler | runs | median regret [IQR] | mean regret (95% CI) | waste "
            "| dup | 1st feasible | found | oracle hit | ms/trial | p vs ref |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        pvals = {
            (t["sampler"], t["problem"]): t["p_value"]
            for t in summary.tests
            if t["budget"] == budget
        }
        for cell in (c for c in summary.cells if c["budget"] == budget):
            p = pvals.get((cell["sampler"], cell["problem"]))
            ref_mark = "ref" if cell["sampler"] == summary.reference else _fmt(p)
            lines.append(
                f"| {cell['problem']} | {cell['sampler']} | {cell['n_runs']} "
                f"| {_fmt(cell['regret_median'])} [{_fmt(cell['regret_q25'])}, "
                f"{_fmt(cell['regret_q75'])}] "
                f"| {_fmt(cell['regret_mean'])} ({_fmt(cell['regret_ci_low'])}, "
                f"{_fmt(cell['regret_ci_high'])}) "
                f"| {_fmt(cell['waste_mean'], 2)} | {_fmt(cell['duplicate_mean'], 2)} "
                f"| {_fmt(cell['first_feasible_median'], 1)} "
                f"| {_fmt(cell['feasible_found_rate'], 2)} "
                f"| {_fmt(cell['oracle_hit_rate'], 2)} | {_fmt(cell['overhead_ms_median'], 2)} "
                f"| {ref_mark} |"
            )
        lines.append("")
    cols = [str(b) for b in summary.budgets] + ["all"]
    lines += [
        "### Mean rank by mean regret (1 = best)",
        "",
        "| sampler | " + " | ".join(f"B={c}" if c != "all" else "all" for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for sampler in summary.samplers:
        ranks = summary.ranks.get(sampler, {})
        lines.append(f"| {sampler} | " + " | ".join(_fmt(ranks.get(c), 2) for c in cols) + " |")
    pooled = [t for t in summary.tests if t["problem"] == ALL_PROBLEMS]
    if pooled:
        lines += [
            "",
            f"### Paired Wilcoxon vs {summary.reference}, all problems pooled (pairs = problem x "
            "seed; win = lower regret)",
            "",
            "| budget | sampler | pairs | wins | losses | ties | median diff | p |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for t in pooled:
            lines.append(
                f"| {t['budget']} | {t['sampler']} | {t['n_pairs']} | {t['wins']} "
                f"| {t['losses']} | {t['ties']} | {_fmt(t['median_diff'])} | {_fmt(t['p_value'])} |"
            )
    if summary.notes:
        lines += ["", *[f"- {n}" for n in summary.notes]]
    errors = sum(c["n_errors"] for c in summary.cells)
    if errors:
        lines += ["", f"- WARNING: {errors} trials failed for reasons other than a problem crash."]
    return "\n".join(lines) + "\n"
