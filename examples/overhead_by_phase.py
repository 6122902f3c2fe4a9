"""Where the hybrid's sampler time goes at small budgets: phase 1 versus phase 2.

For every built-in synthetic problem, runs plain ``TPESampler`` and ``TBAHybridSampler``
(with ``expected_n_trials`` = the budget) for the same seeds, times every sampler call per
trial (objective time excluded), and prints medians over seeds of:

* TPE's sampler time per trial;
* the hybrid's, and its ratio to TPE;
* the hybrid's time in its phase-2 trials only, divided by the budget — the hybrid's cost
  per trial if phase 1 cost nothing — and that ratio to TPE;
* how many trials phase 1 lasted.

At budget 15 TPE spends its first 10 trials on nearly free random sampling, so a low
phase-2 ratio is impossible for any sampler that models the history earlier.

    python examples/overhead_by_phase.py --budget 15 --seeds 20
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import optuna

from deploybench.compare import TimingSampler
from deploybench.problems import get_problem, list_problems
from optuna_tba import TBAHybridSampler


def run(
    problem: str, sampler: optuna.samplers.BaseSampler, budget: int
) -> tuple[optuna.Study, TimingSampler]:
    p = get_problem(problem)
    timer = TimingSampler(sampler)
    study = optuna.create_study(direction=p.direction, sampler=timer)
    study.optimize(p, n_trials=budget, catch=(Exception,))
    return study, timer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--problems", nargs="+", default=None,
                        help="synthetic problems (default: every built-in one)")
    args = parser.parse_args(argv)
    if args.budget < 1 or args.seeds < 1:
        parser.error("--budget and --seeds must be >= 1")
    known = [n for n in list_problems() if not n.startswith("replay")]
    problems = args.problems or known
    unknown = sorted(set(problems) - set(known))
    if unknown:
        parser.error(f"unknown problem(s): {', '.join(unknown)}; known: {', '.join(known)}")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    b = args.budget
    print(f"median ms/trial over {args.seeds} seeds, budget {b}")
    print(f"{'problem':22s} {'tpe':>6s} {'hybrid':>7s} {'x tpe':>6s} "
          f"{'phase-2 only':>13s} {'x tpe':>6s} {'phase-1 trials':>15s}")
    for problem in problems:
        tpe, hyb, p2, n1 = [], [], [], []
        for seed in range(args.seeds):
            _, timer = run(problem, optuna.samplers.TPESampler(seed=seed), b)
            tpe.append(timer.seconds / b * 1e3)
            study, timer = run(problem, TBAHybridSampler(seed=seed, expected_n_trials=b), b)
            phase = {t.number: t.user_attrs.get("tba_phase") for t in study.trials}
            hyb.append(timer.seconds / b * 1e3)
            p2.append(sum(s for n, s in timer.seconds_by_trial.items() if phase.get(n) == "phase2")
                      / b * 1e3)
            n1.append(sum(1 for v in phase.values() if v == "phase1"))
        t, h, q = statistics.median(tpe), statistics.median(hyb), statistics.median(p2)
        print(f"{problem:22s} {t:6.2f} {h:7.2f} {h / t:6.2f} {q:13.2f} {q / t:6.2f} "
              f"{statistics.median(n1):15.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
