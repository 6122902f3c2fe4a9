"""Held-out sanity check: problems the sampler's defaults were not tuned on.

The comparison harness's problems were used during development (on other seeds, but still).
These were written afterwards, to look for pathologies, and no default was changed because
of them. First set (fourth session):

* ``ackley10`` — 10-dimensional continuous Ackley (minimise), crash when ``x0 + x1 > 4``
  (about 10 % of the box), constraint ``sum(x) <= 10``.
* ``cat_heavy`` — six 4-valued categoricals and two floats (maximise); crashes on two value
  pairs and on one single value; a linear constraint on the floats.
* ``int_knap`` — eight integers 0..10 (maximise a weighted sum), a tight weight limit, and a
  crash when two or more integers exceed 7.

Second set (sixth session):

* ``lr_schedule`` — a training-like search (minimise the loss): optimizer, log-scale
  learning rate and weight decay, batch size, warm-up; the loss diverges (crash) above a
  learning-rate limit that depends on optimizer, batch and warm-up, the best learning rate
  is a third of that limit, and small batches break a wall-clock limit.
* ``edge_pick`` — a deployment-like pick (maximise accuracy plus a small throughput bonus):
  model, precision, backend, threads, batch; unsupported-op crashes on single values and
  pairs, OOM above twice the memory limit, latency and memory limits.
* ``sparse_box`` — six integers 0..9 feasible only within 2 of a hidden centre in every
  coordinate (about 1.6 % of the grid), no crashes, a linear objective (maximise).

Third set (seventh session): ``cond_arch``, ``crash_half``, ``oom_batch`` and ``flaky``,
defined in ``heldout_third_set.py``. Fourth set (ninth session): ``flag_combo``,
``quant_mix``, ``mostly_crash``, ``wide_cat`` and ``int_ladder``, defined in
``heldout_fourth_set.py``. Fifth set (tenth session): ``styblinski6``, ``hparam_plain``,
``nan_region``, ``wall20``, ``timeout_prune`` and four high-dimensional problems
(``ellipse12``, ``mixed16``, ``rot_quad14``, ``cat_plus12``), defined in
``heldout_fifth_set.py``. Sixth set (tenth session): ``sphere15``, ``hp_wide12``,
``band12`` and ``cat_hd14``, defined in ``heldout_sixth_set.py``. Seventh set (eleventh
session): ``levy10``, ``log_hd11``, ``int_step13``, ``cat3_hd12``, ``cond_hd`` and
``many_walls10``, defined in ``heldout_seventh_set.py``. Eighth set (eleventh session):
``gbm_hpo``, ``quant_serve``, ``narrow_valley`` and ``cond_deep``, defined in
``heldout_eighth_set.py``. Ninth set (thirteenth session): ``raw_units``, ``cat_grid`` and
``backend_knobs``, defined in ``heldout_ninth_set.py``. Tenth set (fourteenth session):
``mem_edge``, ``noisy_edge``, ``thread_pools`` and ``compile_modes``, defined in
``heldout_tenth_set.py``.

For every problem, sampler, budget and seed it runs one in-memory study and prints the
median best feasible value (feasible: COMPLETE with every constraint <= 0; a run that found
nothing feasible counts as the worst, and "none" is printed when the median run found
nothing), the mean waste (crashed, infeasible or pruned fraction) and how many runs found
nothing feasible.

    python examples/heldout_problems.py --samplers tba_hybrid tpe random --budgets 25 50 \
        --seeds 20 --jobs 2

``--save FILE`` writes every run's result as JSON; ``--baseline FILE`` pairs this run's
``tba_hybrid`` with the ``tba_hybrid`` runs of such a file, seed by seed (how a code
change is measured: save the old code's runs with ``PYTHONPATH`` pointing at a checkout of
it, then run the new code with ``--baseline``):

    PYTHONPATH=/path/to/old-checkout python examples/heldout_problems.py \
        --samplers tba_hybrid --budgets 15 25 50 --seed-start 20 --seeds 80 --save old.json
    python examples/heldout_problems.py --samplers tba_hybrid --budgets 15 25 50 \
        --seed-start 20 --seeds 80 --baseline old.json

``--workers K`` replays each study as K parallel workers whose trials take equal time
(ask and tell: a trial is proposed while the K - 1 proposed before it are still RUNNING),
to see whether the comparison holds for parallel studies.

``--paired`` adds tba_hybrid against each other sampler, paired by seed (better / worse
runs and the Wilcoxon p-value). ``--seed-start`` moves the seeds (diagnose on seeds other
than the reported 0..19),
``--problems`` picks problems and ``--hybrid-kwargs`` passes constructor arguments to
``TBAHybridSampler`` (for a variant).
"""

from __future__ import annotations

import argparse
import json
import math
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal

import heldout_eighth_set as eighth_set
import heldout_fifth_set as fifth_set
import heldout_fourth_set as fourth_set
import heldout_ninth_set as ninth_set
import heldout_seventh_set as seventh_set
import heldout_sixth_set as sixth_set
import heldout_tenth_set as tenth_set
import heldout_third_set as third_set
import numpy as np
import optuna

from deploybench.compare import STATUS_FEASIBLE, trial_status

#: The configuration crashed (the trial becomes FAIL); one class for all three sets.
Crash = third_set.Crash


def ackley10(trial: optuna.Trial) -> float:
    x = np.array([trial.suggest_float(f"x{i}", -5.0, 5.0) for i in range(10)])
    if x[0] + x[1] > 4.0:
        raise Crash("x0 + x1 > 4")
    trial.set_constraint("sum", (float(np.sum(x)) - 10.0) / 10.0)
    return float(-20.0 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
                 - np.exp(np.mean(np.cos(2.0 * np.pi * x))) + 20.0 + math.e)


_SCORES = np.random.default_rng(7).uniform(0.0, 1.0, size=(6, 4))


def cat_heavy(trial: optuna.Trial) -> float:
    c = [trial.suggest_categorical(f"c{i}", [0, 1, 2, 3]) for i in range(6)]
    u = trial.suggest_float("u", 0.0, 1.0)
    v = trial.suggest_float("v", 0.0, 1.0)
    if (c[0] == 3 and c[1] == 2) or (c[2] == 0 and c[3] == 1) or c[4] == 3:
        raise Crash("unsupported combination")
    trial.set_constraint("budget", (u + v) / 1.2 - 1.0)
    return float(sum(_SCORES[i, c[i]] for i in range(6)) + 2.0 * u + v - (u - 0.7) ** 2)


_W = np.arange(1, 9)
_V = np.array([3, 5, 2, 7, 4, 6, 1, 8])


def int_knap(trial: optuna.Trial) -> float:
    k = np.array([trial.suggest_int(f"k{i}", 0, 10) for i in range(8)])
    if int(np.sum(k > 7)) >= 2:
        raise Crash("out of memory")
    trial.set_constraint("weight", float(_W @ k) / 60.0 - 1.0)
    return float(_V @ k)


# ---------------------------------------------------------------------------------------
# Second held-out set (sixth session): written after every default was fixed, run once,
# nothing tuned on them.

_OPT_BASE = {"sgd": 0.30, "momentum": 0.22, "adam": 0.20, "adamw": 0.18}
_OPT_LR = {"sgd": 0.3, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3}


def lr_schedule(trial: optuna.Trial) -> float:
    """Training-like search (minimise the final loss): the best learning rate sits at a
    third of the divergence limit, and small batches break a wall-clock limit."""
    opt = trial.suggest_categorical("optimizer", list(_OPT_BASE))
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    wd = trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True)
    batch = trial.suggest_categorical("batch", [16, 32, 64, 128, 256, 512])
    warmup = trial.suggest_int("warmup", 0, 10)
    lr_max = 3.0 * _OPT_LR[opt] * math.sqrt(batch / 128) * (1.0 + 0.15 * warmup)
    if lr > lr_max:
        raise Crash("loss diverged (NaN)")
    lr_best = lr_max / 3.0
    trial.set_constraint("time", 40.0 / batch**0.7 + 0.05 * warmup - 1.0)  # limit: 1.0
    return float(
        _OPT_BASE[opt]
        + 0.08 * (math.log10(lr) - math.log10(lr_best)) ** 2
        + 0.02 * (math.log10(wd) + 4.0) ** 2
        + 0.01 * abs(warmup - 4) / 4
    )


_EDGE = np.random.default_rng(11).uniform([0.60, 0.2, 0.2], [0.85, 1.6, 1.6], size=(8, 3))
_PREC = {"fp32": (1.0, 1.0, 0.0), "fp16": (0.6, 0.5, 0.002), "int8": (0.35, 0.25, 0.01)}
_BACKEND = {"eager": 1.0, "compiled": 0.7, "onnx": 0.55}
_MEMORY_LIMIT = 2.0
_LATENCY_LIMIT = 0.5


def edge_pick(trial: optuna.Trial) -> float:
    """Deployment-like pick (maximise accuracy plus a small throughput bonus) under latency
    and memory limits; int8 is unsupported for three models, compiled + int8 always
    crashes, onnx + fp16 crashes for two models, and memory over twice the limit is OOM."""
    model = trial.suggest_int("model", 0, 7)
    precision = trial.suggest_categorical("precision", list(_PREC))
    backend = trial.suggest_categorical("backend", list(_BACKEND))
    threads = trial.suggest_int("threads", 1, 4)
    batch = trial.suggest_int("batch", 1, 16, log=True)
    acc, flops, size = _EDGE[model]
    speed, mem_factor, penalty = _PREC[precision]
    if precision == "int8" and (model in (1, 4, 6) or backend == "compiled"):
        raise Crash("unsupported int8 op")
    if backend == "onnx" and precision == "fp16" and model in (2, 5):
        raise Crash("onnx fp16 kernel missing")
    memory = size * mem_factor * (0.6 + 0.4 * batch**0.8)
    if memory > 2.0 * _MEMORY_LIMIT:
        raise Crash("out of memory")
    latency = flops * speed * _BACKEND[backend] * batch**0.9 / threads**0.8
    trial.set_constraint("latency", latency / _LATENCY_LIMIT - 1.0)
    trial.set_constraint("memory", memory / _MEMORY_LIMIT - 1.0)
    return float(acc - penalty + 0.002 * batch / max(latency, 1e-3))


_CENTRE = np.random.default_rng(5).integers(2, 8, size=6)
_WEIGHTS = np.random.default_rng(6).uniform(0.5, 1.5, size=6)


def sparse_box(trial: optuna.Trial) -> float:
    """Six integers 0..9, feasible only within 2 of a hidden centre in every coordinate
    (about 1.6 % of the grid); the violation grows with the distance (maximise)."""
    x = np.array([trial.suggest_int(f"x{i}", 0, 9) for i in range(6)])
    trial.set_constraint("box", float(np.max(np.abs(x - _CENTRE)) - 2) / 7.0)
    return float(_WEIGHTS @ x)


PROBLEMS: dict[str, tuple[Callable[[optuna.Trial], float], Literal["minimize", "maximize"]]] = {
    "ackley10": (ackley10, "minimize"),
    "cat_heavy": (cat_heavy, "maximize"),
    "int_knap": (int_knap, "maximize"),
    "lr_schedule": (lr_schedule, "minimize"),
    "edge_pick": (edge_pick, "maximize"),
    "sparse_box": (sparse_box, "maximize"),
    **third_set.PROBLEMS,
    **fourth_set.PROBLEMS,
    **fifth_set.PROBLEMS,
    **sixth_set.PROBLEMS,
    **seventh_set.PROBLEMS,
    **eighth_set.PROBLEMS,
    **ninth_set.PROBLEMS,
    **tenth_set.PROBLEMS,
}
SAMPLERS = ("tba_hybrid", "tpe", "random", "gp")


def make_sampler(
    name: str, seed: int, budget: int, hybrid_kwargs: dict[str, object] | None = None
) -> optuna.samplers.BaseSampler:
    if name == "tba_hybrid":
        from optuna_tba import TBAHybridSampler

        kwargs: dict[str, object] = {"expected_n_trials": budget, **(hybrid_kwargs or {})}
        return TBAHybridSampler(seed=seed, **kwargs)  # type: ignore[arg-type]
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GPSampler(seed=seed)


Job = tuple[str, str, int, int, dict[str, object], int]


def run_one(job: Job) -> tuple[str, str, int, int, float | None, float]:
    problem, sampler, seed, budget, hybrid_kwargs, workers = job
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    objective, direction = PROBLEMS[problem]
    study = optuna.create_study(direction=direction,
                                sampler=make_sampler(sampler, seed, budget, hybrid_kwargs))
    if workers == 1:
        study.optimize(objective, n_trials=budget, catch=(Crash,))
    else:
        _simulate_workers(study, objective, budget, workers)
    best: float | None = None
    wasted = 0
    for t in study.trials:
        if trial_status(t) != STATUS_FEASIBLE or t.value is None:
            wasted += 1
            continue
        v = float(t.value)
        if best is None or (v < best if direction == "minimize" else v > best):
            best = v
    return problem, sampler, seed, budget, best, wasted / budget


def _simulate_workers(study: optuna.Study, objective: Callable[[optuna.Trial], float],
                      budget: int, workers: int) -> None:
    """``workers`` parallel workers whose trials all take the same time, replayed with
    ask and tell: each trial is asked (and its objective evaluated) while the
    ``workers - 1`` trials asked before it are still RUNNING, and told when it is the
    oldest of ``workers`` trials in flight. Deterministic, unlike threads."""
    in_flight: list[tuple[optuna.Trial, float | None, optuna.trial.TrialState]] = []
    for _ in range(budget):
        trial = study.ask()
        try:
            value: float | None = float(objective(trial))
            state = optuna.trial.TrialState.COMPLETE
        except Crash:
            value, state = None, optuna.trial.TrialState.FAIL
        except optuna.TrialPruned:
            value, state = None, optuna.trial.TrialState.PRUNED
        if value is not None and not math.isfinite(value):
            value, state = None, optuna.trial.TrialState.FAIL  # what optimize() records
        in_flight.append((trial, value, state))
        if len(in_flight) >= workers:
            t, v, st = in_flight.pop(0)
            study.tell(t, v, state=st)
    for t, v, st in in_flight:
        study.tell(t, v, state=st)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", nargs="+", default=["tba_hybrid", "tpe", "random"],
                        choices=SAMPLERS)
    parser.add_argument("--budgets", nargs="+", type=int, default=[25, 50])
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1,
                        help="simulated parallel workers per study (ask/tell, equal trial "
                             "durations; default 1: study.optimize)")
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--save", type=Path, metavar="FILE",
                        help="write every run's result to FILE (JSON)")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="pair tba_hybrid with the tba_hybrid runs saved in FILE")
    parser.add_argument("--paired", action="store_true",
                        help="also compare tba_hybrid with each other sampler, seed by seed")
    parser.add_argument("--hybrid-kwargs", default="{}", metavar="JSON",
                        help="TBAHybridSampler keyword arguments, e.g. '{\"p_repair\": 0}'")
    args = parser.parse_args(argv)
    if (args.seeds < 1 or args.jobs < 1 or args.workers < 1 or min(args.budgets) < 1
            or args.seed_start < 0):
        parser.error("--seeds, --jobs, --workers and --budgets must be >= 1, "
                     "--seed-start >= 0")
    try:
        hybrid_kwargs = json.loads(args.hybrid_kwargs)
    except json.JSONDecodeError as exc:
        parser.error(f"--hybrid-kwargs is not JSON: {exc}")
    if not isinstance(hybrid_kwargs, dict):
        parser.error("--hybrid-kwargs must be a JSON object")
    if "tba_hybrid" in args.samplers:
        try:
            make_sampler("tba_hybrid", 0, max(args.budgets), hybrid_kwargs)
        except (TypeError, ValueError) as exc:
            parser.error(f"--hybrid-kwargs: {exc}")
    baseline = None
    if args.baseline is not None:
        if "tba_hybrid" not in args.samplers:
            parser.error("--baseline compares tba_hybrid runs: add tba_hybrid to --samplers")
        try:
            baseline = [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), r[4], float(r[5]))
                        for r in json.loads(args.baseline.read_text())]
        except (OSError, ValueError, TypeError, IndexError) as exc:
            parser.error(f"--baseline: cannot read {args.baseline}: {exc}")
    seeds = range(args.seed_start, args.seed_start + args.seeds)
    jobs = [(p, s, seed, b, hybrid_kwargs, args.workers) for p in args.problems
            for s in args.samplers for b in args.budgets for seed in seeds]
    if args.jobs == 1:
        results = [run_one(j) for j in jobs]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_one, jobs, chunksize=4))
    print(f"median best feasible value (mean waste, runs with nothing feasible), "
          f"seeds {seeds.start}-{seeds.stop - 1}"
          + (f", {args.workers} simulated workers" if args.workers > 1 else ""))
    print(f"{'problem':11s} {'budget':>6s} " + " ".join(f"{s:>22s}" for s in args.samplers))
    for p in args.problems:
        direction = PROBLEMS[p][1]
        for b in args.budgets:
            cells = []
            for s in args.samplers:
                rs = [r for r in results if r[0] == p and r[1] == s and r[3] == b]
                worst = math.inf if direction == "minimize" else -math.inf
                bests = [worst if r[4] is None else r[4] for r in rs]
                med = float(np.median(bests))
                text = "none" if math.isinf(med) else f"{med:.3f}"
                none = sum(r[4] is None for r in rs)
                cells.append(f"{text} ({np.mean([r[5] for r in rs]):.2f}, {none})")
            print(f"{p:11s} {b:6d} " + " ".join(f"{c:>22s}" for c in cells))
    if args.save is not None:
        args.save.write_text(json.dumps(results))
        print(f"\nwrote {len(results)} runs to {args.save}")
    if baseline is not None:
        print_against_baseline(results, baseline, args.problems, args.budgets)
    if args.paired and "tba_hybrid" in args.samplers:
        print_paired(results, args.problems, args.budgets,
                     [s for s in args.samplers if s != "tba_hybrid"])
    return 0


def _oriented(by: dict[tuple[str, str, int, int], float | None], problem: str, sampler: str,
              budget: int, seeds: list[int], sign: float) -> np.ndarray:
    """Per seed, the best value oriented so that lower is better (inf: nothing feasible)."""
    return np.array([_signed(by[(problem, sampler, budget, s)], sign) for s in seeds])


def _signed(value: float | None, sign: float) -> float:
    """A best value oriented so that lower is better (inf: nothing feasible)."""
    return math.inf if value is None else sign * value


def print_against_baseline(results: list[tuple[str, str, int, int, float | None, float]],
                           baseline: list[tuple[str, str, int, int, float | None, float]],
                           problems: list[str], budgets: list[int]) -> None:
    """This run's tba_hybrid against a saved run's, paired by seed: runs better / worse
    (nothing feasible is worse than anything), Wilcoxon p over seeds where both found
    something, and the mean waste of both; then the totals per budget."""
    from deploybench.compare import paired_wilcoxon

    new = {(r[0], r[3], r[2]): r for r in results if r[1] == "tba_hybrid"}
    old = {(r[0], r[3], r[2]): r for r in baseline if r[1] == "tba_hybrid"}
    keys = sorted(set(new) & set(old))
    missing = len(new) - len(keys)
    print(f"\ntba_hybrid against the baseline file, paired by seed ({len(keys)} pairs"
          + (f"; {missing} runs have no baseline" if missing else "") + "): better/worse "
          "runs, Wilcoxon p, mean waste baseline -> now")
    wins = dict.fromkeys(budgets, 0)
    losses = dict.fromkeys(budgets, 0)
    waste: dict[int, tuple[list[float], list[float]]] = {b: ([], []) for b in budgets}
    for p in problems:
        sign = 1.0 if PROBLEMS[p][1] == "minimize" else -1.0
        cells = []
        for b in budgets:
            ks = [k for k in keys if k[0] == p and k[1] == b]
            if not ks:
                continue
            h = np.array([_signed(new[k][4], sign) for k in ks])
            o = np.array([_signed(old[k][4], sign) for k in ks])
            both = np.isfinite(h) & np.isfinite(o)
            pv = paired_wilcoxon(h[both], o[both])
            better, worse = int(np.sum(h < o)), int(np.sum(h > o))
            w_old = [old[k][5] for k in ks]
            w_new = [new[k][5] for k in ks]
            wins[b] += better
            losses[b] += worse
            waste[b][0].extend(w_old)
            waste[b][1].extend(w_new)
            mark = "*" if pv is not None and pv < 0.05 else ""
            text = "p -" if pv is None else f"p {pv:.3f}{mark}"
            cells.append(f"B{b} {better}/{worse} {text} "
                         f"w {np.mean(w_old):.2f}->{np.mean(w_new):.2f}")
        print(f"{p:12s} " + "   ".join(cells))
    for b in budgets:
        w_old, w_new = waste[b]
        if w_old:
            print(f"budget {b}: better in {wins[b]} runs, worse in {losses[b]}; mean waste "
                  f"{np.mean(w_old):.4f} -> {np.mean(w_new):.4f}")


def print_paired(results: list[tuple[str, str, int, int, float | None, float]],
                 problems: list[str], budgets: list[int], others: list[str]) -> None:
    """tba_hybrid against each other sampler, paired by seed: runs where the hybrid's best
    is better / worse (a run with nothing feasible is worse than any run that found
    something) and the two-sided Wilcoxon signed-rank p-value over the seeds where both
    found something (``deploybench.compare.paired_wilcoxon``); * marks p < 0.05."""
    from deploybench.compare import paired_wilcoxon

    by = {(r[0], r[1], r[3], r[2]): r[4] for r in results}
    seeds = sorted({r[2] for r in results})
    print("\ntba_hybrid vs each sampler, paired by seed: better/worse runs, Wilcoxon p")
    for p in problems:
        sign = 1.0 if PROBLEMS[p][1] == "minimize" else -1.0
        for b in budgets:
            h = _oriented(by, p, "tba_hybrid", b, seeds, sign)
            cells = []
            for other in others:
                o = _oriented(by, p, other, b, seeds, sign)
                both = np.isfinite(h) & np.isfinite(o)
                pv = paired_wilcoxon(h[both], o[both])  # None when no seed has both
                mark = "*" if pv is not None and pv < 0.05 else ""
                text = "p -" if pv is None else f"p {pv:.3f}{mark}"
                cells.append(f"{other}: {int(np.sum(h < o))}/{int(np.sum(h > o))} {text}")
            print(f"{p:11s} {b:6d}  " + "   ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
