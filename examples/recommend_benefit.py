"""Measure what ``optuna_tba.recommend`` buys over "best observed feasible trial".

At an equal total budget of ``--budget`` evaluations per run, on a problem whose true
feasibility probabilities are known, we compare these strategies. Problems:

* ``noisy_boundary`` (default): ``deploybench.problems.noisy.NoisyBoundaryProblem``,
  exact feasibility probabilities in closed form;
* ``replay:<table>:<scenario>``: a recorded table replayed with its measurement noise
  (each evaluation draws one recorded repeat); a configuration's true feasibility
  probability is the fraction of its recorded repeats that meet the limits, and the
  oracle is the best configuration feasible in >= 90 % of them
  (``feasible_fraction=0.9`` unless ``--problem-kwargs`` says otherwise). Restrict the
  space with ``--problem-kwargs '{"subgrid": {...}}'``.

Strategies:

* ``best_observed``: run the sampler for the whole budget; answer the best COMPLETE
  trial whose constraints were met on its (single) evaluation.
* ``recommend``: the same study, answered by ``recommend(study)`` (no extra spending;
  only repeats the sampler made on its own count).
* ``topk_reeval``: run the sampler for ``budget - R`` trials (``R = round(reeval_fraction
  * budget)``), then re-evaluate the ``--top-k`` best observed-feasible configurations
  round-robin with ``study.enqueue_trial`` for the remaining ``R`` trials, and answer
  ``recommend(study)``.
* ``sequential_reeval``: run the sampler for ``budget - R`` trials, then for each of the
  ``R`` remaining trials re-evaluate the best-valued observed-feasible configuration that
  is neither rejected (posterior ``P(phi >= 0.9) < 0.1``) nor already certified (see
  :func:`next_verification`); when nothing needs verifying the sampler proposes the trial.
  Answer ``recommend(study)``.
* ``sampler_reeval`` (only for ``tba_hybrid``, when it has the option):
  ``TBAHybridSampler(reevaluation=reeval_fraction)`` for the whole budget, answered by
  ``recommend(study)``.

Score of one answer: whether its TRUE feasibility probability is >= 0.9 ("reliable"),
its true objective, and its regret against the oracle (best config with P >= 0.9).
A run that gives no answer (nothing feasible observed) counts as unreliable and is
left out of the value averages (the count is printed).

Usage::

    python examples/recommend_benefit.py --seeds 20 --budget 60 --json out.json
    python examples/recommend_benefit.py --problem replay:cpu-2core:edge_tight \
        --problem-kwargs '{"subgrid": {"batch_sizes": [1, 2, 4]}}' --budget 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import optuna

from deploybench.problems import Problem, ProblemCrash, get_problem
from deploybench.samplers import SamplerSpecError, resolve_sampler
from optuna_tba._recommend import collect_evidence, recommend

Answer = tuple[dict[str, Any] | None, str]  # (params or None, status)


def _feasible(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state == optuna.trial.TrialState.COMPLETE and all(
        v <= 0 for v in trial.constraints.values()
    )


def _sign(study: optuna.Study) -> float:
    """+1 for minimisation, -1 for maximisation (so that lower ``sign * value`` is better)."""
    return 1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else -1.0


def best_observed(study: optuna.Study) -> Answer:
    """Best COMPLETE trial whose constraints were met (what users usually report)."""
    feas = [t for t in study.trials if _feasible(t) and t.value is not None]
    if not feas:
        return None, "no_feasible_observation"
    sign = _sign(study)
    best = min(feas, key=lambda t: sign * float(t.value))  # type: ignore[arg-type]
    return dict(best.params), "observed"


def _recommend_answer(study: optuna.Study) -> Answer:
    rec = recommend(study, confidence=0.9)
    return dict(rec.params), rec.status


def top_k_configs(study: optuna.Study, k: int) -> list[dict[str, Any]]:
    """The ``k`` best distinct configurations among observed-feasible trials."""
    seen: dict[str, tuple[float, dict[str, Any]]] = {}
    sign = _sign(study)
    for t in study.trials:
        if _feasible(t) and t.value is not None:
            key = json.dumps(t.params, sort_keys=True)
            if key not in seen or sign * float(t.value) < seen[key][0]:
                seen[key] = (sign * float(t.value), dict(t.params))
    return [p for _, p in sorted(seen.values(), key=lambda vp: vp[0])[:k]]


def next_verification(study: optuna.Study, reject_below: float = 0.1) -> dict[str, Any] | None:
    """The configuration the sequential strategy re-evaluates next (None: nothing to verify).

    Candidates are configurations with at least one feasible evaluation, best objective
    first. A candidate is *rejected* when the posterior probability that it meets 0.9 is
    below ``reject_below`` and *certified* when ``recommend`` would certify it. We verify
    the best candidate that is neither, provided it beats the best certified one.
    """
    evidence = [e for e in collect_evidence(study, confidence=0.9)
                if e.n_feasible > 0 and e.value is not None]
    sign = _sign(study)
    evidence.sort(key=lambda e: sign * float(e.value))  # type: ignore[arg-type]
    for e in evidence:
        if e.lower_bound >= 0.9:  # certified: nothing better is left to verify
            return None
        if e.prob_meets_confidence >= reject_below:
            return dict(e.params)
    return None


def _make_sampler(name: str, seed: int, **kwargs: Any) -> optuna.samplers.BaseSampler:
    return resolve_sampler(name).build(seed, **kwargs)


def build_problem(name: str, kwargs: dict[str, Any], seed: int) -> Problem:
    """The benchmark problem for one seed (seeds its evaluation noise)."""
    return get_problem(name, **{**kwargs, "seed": seed})


def _study(sampler: optuna.samplers.BaseSampler, problem: Problem) -> optuna.Study:
    return optuna.create_study(direction=problem.direction, sampler=sampler)


def _optimize(study: optuna.Study, problem: Problem, n_trials: int) -> None:
    study.optimize(problem, n_trials=n_trials, catch=(ProblemCrash,))


def run_one(sampler_name: str, seed: int, budget: int, reeval: int, top_k: int,
            problem_name: str, problem_kwargs: dict[str, Any]) -> dict[str, Answer]:
    """All strategies for one (sampler, seed); each gets exactly ``budget`` evaluations."""
    answers: dict[str, Answer] = {}

    def fresh() -> tuple[optuna.Study, Problem]:
        problem = build_problem(problem_name, problem_kwargs, seed)
        return _study(_make_sampler(sampler_name, seed), problem), problem

    plain, problem = fresh()
    _optimize(plain, problem, budget)
    answers["best_observed"] = best_observed(plain)
    answers["recommend"] = _recommend_answer(plain)

    study, problem = fresh()
    _optimize(study, problem, budget - reeval)
    targets = top_k_configs(study, top_k)
    if targets:
        for i in range(reeval):
            study.enqueue_trial(targets[i % len(targets)])
    _optimize(study, problem, reeval)  # random/sampler trials when nothing to re-run
    assert len(study.trials) == budget
    answers["topk_reeval"] = _recommend_answer(study)

    study, problem = fresh()
    _optimize(study, problem, budget - reeval)
    for _ in range(reeval):
        target = next_verification(study)
        if target is not None:
            study.enqueue_trial(target)
        _optimize(study, problem, 1)  # a sampler trial when nothing needs verifying
    assert len(study.trials) == budget
    answers["sequential_reeval"] = _recommend_answer(study)

    if sampler_name == "tba_hybrid" and _has_reevaluation():
        frac = min(0.5, reeval / budget)
        problem = build_problem(problem_name, problem_kwargs, seed)
        study = _study(_make_sampler(sampler_name, seed, reevaluation=frac), problem)
        _optimize(study, problem, budget)
        answers["sampler_reeval"] = _recommend_answer(study)
    return answers


def _has_reevaluation() -> bool:
    try:
        from optuna_tba import TBAHybridSampler
    except ImportError:
        return False
    try:
        TBAHybridSampler(seed=0, reevaluation=0.1)
    except TypeError:
        return False
    return True


def _true_phi(problem: Any, params: dict[str, Any] | None) -> float:
    """True feasibility probability of an answer (0 for no answer or an unknown config)."""
    if params is None:
        return 0.0
    phi = problem.feasibility_probability(params)
    return 0.0 if phi is None else float(phi)


def score(problem: Any, answers: list[Answer], confidence: float = 0.9) -> dict[str, Any]:
    """Aggregate answers of one strategy over seeds.

    ``problem`` must offer ``feasibility_probability(params)``, ``truth(params)`` and
    ``oracle()`` (the best true value among configurations with probability >=
    ``confidence``). Regret is oriented so that 0 is the oracle and larger is worse.
    """
    sign = 1.0 if problem.direction == "minimize" else -1.0
    oracle = float(problem.oracle())
    probs: list[float] = []
    truths: list[float] = []
    statuses: dict[str, int] = {}
    hits = 0
    per_run = []
    for params, status in answers:
        statuses[status] = statuses.get(status, 0) + 1
        phi = _true_phi(problem, params)
        value = None if params is None else problem.truth(params)
        probs.append(phi)
        if value is not None:
            truths.append(float(value))
            hits += int(phi >= confidence and abs(float(value) - oracle) <= 1e-9 * max(
                1.0, abs(oracle)))
        per_run.append({"params": params, "status": status, "true_phi": phi,
                        "true_value": value})
    p = np.asarray(probs)
    t = np.asarray(truths, dtype=float)
    return {
        "runs": len(answers),
        "reliable_fraction": float(np.mean(p >= confidence)),
        "mean_true_feasibility": float(p.mean()),
        "oracle_hit_fraction": hits / len(answers),
        "answered": int(t.size),
        "true_value_mean": float(t.mean()) if t.size else None,
        "true_value_sd": float(t.std(ddof=1)) if t.size > 1 else None,
        "regret_mean": float((sign * (t - oracle)).mean()) if t.size else None,
        "statuses": statuses,
        "per_run": per_run,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--reeval-fraction", type=float, default=0.3)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.08,
                        help="noise of noisy_boundary (ignored for other problems)")
    parser.add_argument("--problem", default="noisy_boundary",
                        help="noisy_boundary or replay:<table>:<scenario>")
    parser.add_argument("--problem-kwargs", default="{}", metavar="JSON",
                        help="keyword arguments of the problem, e.g. "
                        '\'{"subgrid": {"batch_sizes": [1, 2, 4]}}\'')
    parser.add_argument("--samplers", default="random,tpe,tba_hybrid",
                        help="comma-separated sampler names (unavailable ones are skipped)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.budget < 10 or args.top_k < 1:
        parser.error("need --seeds >= 1, --budget >= 10, --top-k >= 1")
    if not 0.0 <= args.reeval_fraction < 1.0:
        parser.error("--reeval-fraction must be in [0, 1)")
    # ERROR: replayed crashes are expected and would each log a traceback at WARNING.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    reeval = round(args.reeval_fraction * args.budget)
    try:
        problem_kwargs = json.loads(args.problem_kwargs)
        if not isinstance(problem_kwargs, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        parser.error(f"--problem-kwargs must be a JSON object: {exc}")
    if args.problem == "noisy_boundary":
        problem_kwargs.setdefault("noise", args.noise)
    elif args.problem.startswith("replay:"):
        problem_kwargs.setdefault("feasible_fraction", 0.9)  # oracle: phi >= 0.9
    try:
        problem = build_problem(args.problem, problem_kwargs, 0)
        oracle = problem.oracle()  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        parser.error(f"cannot use problem {args.problem!r}: {exc}")
    print(f"{args.problem} {problem_kwargs}: oracle={oracle:.4g}, budget={args.budget}, "
          f"re-evaluations={reeval} (top-{args.top_k}), seeds={args.seeds}")
    results: dict[str, Any] = {"settings": vars(args), "problem_kwargs": problem_kwargs,
                               "oracle": oracle,
                               "reeval_trials": reeval, "samplers": {}}
    for name in [s.strip() for s in args.samplers.split(",") if s.strip()]:
        try:
            resolve_sampler(name).build(0)
        except (SamplerSpecError, ImportError) as exc:
            print(f"skipping sampler {name}: {exc}")
            continue
        start = time.perf_counter()
        per_strategy: dict[str, list[Answer]] = {}
        for seed in range(args.seeds):
            for strat, ans in run_one(name, seed, args.budget, reeval, args.top_k,
                                      args.problem, problem_kwargs).items():
                per_strategy.setdefault(strat, []).append(ans)
        scored = {s: score(problem, a) for s, a in per_strategy.items()}
        results["samplers"][name] = scored
        print(f"\nsampler {name} ({time.perf_counter() - start:.0f} s)")
        print(f"  {'strategy':16s} {'reliable':>9s} {'E[phi]':>7s} {'true value':>15s} "
              f"{'regret':>7s} {'oracle':>6s}  statuses")
        for strat, sc in scored.items():
            val = ("-" if sc["true_value_mean"] is None else
                   f"{sc['true_value_mean']:.3f}±{sc['true_value_sd'] or 0:.3f}")
            reg = "-" if sc["regret_mean"] is None else f"{sc['regret_mean']:.3f}"
            print(f"  {strat:16s} {sc['reliable_fraction']:9.2f} "
                  f"{sc['mean_true_feasibility']:7.3f} {val:>15s} {reg:>7s} "
                  f"{sc['oracle_hit_fraction']:6.2f}  {sc['statuses']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
