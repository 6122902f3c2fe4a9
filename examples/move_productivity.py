"""Which kind of proposal pays off? Outcomes and improvements per proposal kind.

Runs ``TBAHybridSampler`` on one problem of the comparison harness for several seeds and
counts, per kind of proposal (phase-1 start-up, annealing move, repair, exploration,
phase-2 TPE proposal, phase-2 annealing move, phase-2 repair — read from each trial's
``tba_reason`` and ``tba:arm``), how many trials were feasible, infeasible or crashed, and
how many improved the best feasible value found so far.

    python examples/move_productivity.py --problem oom_grid --budget 25 --seeds 20

``--problem heldout:NAME`` takes a problem of ``examples/heldout_problems.py`` instead:

    python examples/move_productivity.py --problem heldout:quant_serve --budget 25 --seeds 40
"""

from __future__ import annotations

import argparse
import logging
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable

import optuna

from deploybench.compare import STATUS_FAIL, STATUS_FEASIBLE, trial_status
from deploybench.problems import get_problem, list_problems
from optuna_tba import TBAHybridSampler

KINDS = ("feasible", "infeasible", "crash", "improved")


def kind_of(trial: optuna.trial.FrozenTrial) -> str:
    phase = str(trial.user_attrs.get("tba_phase", "?"))
    reason = str(trial.user_attrs.get("tba_reason", ""))
    arm = trial.system_attrs.get("tba:arm")
    if "repair of" in reason:
        what = "repair"
    elif arm == "tpe":
        what = "TPE"
    elif arm == "anneal" or "annealing move" in reason:
        what = "annealing"
    else:
        what = reason.split(":")[0].split(" (")[0][:28] or "?"
    return f"{phase} {what}"


def outcome_of(trial: optuna.trial.FrozenTrial) -> str:
    status = trial_status(trial)  # the harness's own classification
    if status == STATUS_FAIL:
        return "crash"
    return "feasible" if status == STATUS_FEASIBLE else "infeasible"  # pruned: infeasible


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="oom_grid",
                        help="a harness problem (deploybench compare --list-problems), or "
                             "heldout:NAME for a problem of examples/heldout_problems.py")
    parser.add_argument("--budget", type=int, default=25)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed-start", type=int, default=20)
    args = parser.parse_args(argv)
    if args.budget < 1 or args.seeds < 1:
        parser.error("--budget and --seeds must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    objective: Callable[[optuna.Trial], float]
    if args.problem.startswith("heldout:"):
        import heldout_problems  # next to this script

        name = args.problem.removeprefix("heldout:")
        if name not in heldout_problems.PROBLEMS:
            parser.error(f"unknown held-out problem {name!r}; choose from "
                         f"{sorted(heldout_problems.PROBLEMS)}")
        objective, direction = heldout_problems.PROBLEMS[name]
    else:
        try:
            problem = get_problem(args.problem)
        except KeyError:
            parser.error(f"unknown problem {args.problem!r}; choose from {list_problems()}")
        objective, direction = problem, problem.direction
    sign = 1.0 if direction == "minimize" else -1.0
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        sampler = TBAHybridSampler(seed=seed, expected_n_trials=args.budget)
        study = optuna.create_study(direction=direction, sampler=sampler)
        study.optimize(objective, n_trials=args.budget, catch=(Exception,))
        best: float | None = None
        for t in study.trials:
            kind, outcome = kind_of(t), outcome_of(t)
            counts[kind][outcome] += 1
            if outcome == "feasible" and t.value is not None:
                v = sign * float(t.value)
                if best is not None and v < best:
                    counts[kind]["improved"] += 1
                best = v if best is None else min(best, v)
    print(f"{args.problem}, budget {args.budget}, seeds {args.seed_start}.."
          f"{args.seed_start + args.seeds - 1}: trials per proposal kind")
    print(f"{'proposal kind':40s} {'trials':>6s} " + " ".join(f"{k:>10s}" for k in KINDS)
          + "  improved/trial")
    for kind in sorted(counts):
        c = counts[kind]
        n = c["feasible"] + c["infeasible"] + c["crash"]
        print(f"{kind:40s} {n:6d} " + " ".join(f"{c[k]:10d}" for k in KINDS)
              + f"  {c['improved'] / n:14.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
