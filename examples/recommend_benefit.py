"""Measure what ``optuna_tba.recommend`` buys over "best observed feasible trial".

At an equal total budget of ``--budget`` evaluations per run, on the noisy-constraint
problem ``deploybench.problems.noisy.NoisyBoundaryProblem`` (exact feasibility
probabilities known), we compare these strategies:

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
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
import optuna

from deploybench.problems.noisy import NoisyBoundaryProblem
from deploybench.samplers import SamplerSpecError, resolve_sampler
from optuna_tba._recommend import collect_evidence, recommend

Answer = tuple[dict[str, Any] | None, str]  # (params or None, status)


def _feasible(trial: optuna.trial.FrozenTrial) -> bool:
    return trial.state == optuna.trial.TrialState.COMPLETE and all(
        v <= 0 for v in trial.constraints.values()
    )


def best_observed(study: optuna.Study) -> Answer:
    """Best COMPLETE trial whose constraints were met (what users usually report)."""
    feas = [t for t in study.trials if _feasible(t) and t.value is not None]
    if not feas:
        return None, "no_feasible_observation"
    best = min(feas, key=lambda t: float(t.value))  # type: ignore[arg-type]
    return dict(best.params), "observed"


def _recommend_answer(study: optuna.Study) -> Answer:
    rec = recommend(study, confidence=0.9)
    return dict(rec.params), rec.status


def top_k_configs(study: optuna.Study, k: int) -> list[dict[str, Any]]:
    """The ``k`` best distinct configurations among observed-feasible trials."""
    seen: dict[str, tuple[float, dict[str, Any]]] = {}
    for t in study.trials:
        if _feasible(t) and t.value is not None:
            key = json.dumps(t.params, sort_keys=True)
            if key not in seen or float(t.value) < seen[key][0]:
                seen[key] = (float(t.value), dict(t.params))
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
    evidence.sort(key=lambda e: float(e.value))  # type: ignore[arg-type]
    for e in evidence:
        if e.lower_bound >= 0.9:  # certified: nothing better is left to verify
            return None
        if e.prob_meets_confidence >= reject_below:
            return dict(e.params)
    return None


def _make_sampler(name: str, seed: int, **kwargs: Any) -> optuna.samplers.BaseSampler:
    return resolve_sampler(name).build(seed, **kwargs)


def _study(sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    return optuna.create_study(direction="minimize", sampler=sampler)


def run_one(sampler_name: str, seed: int, budget: int, reeval: int, top_k: int,
            noise: float) -> dict[str, Answer]:
    """All strategies for one (sampler, seed); each gets exactly ``budget`` evaluations."""
    answers: dict[str, Answer] = {}
    plain = _study(_make_sampler(sampler_name, seed))
    plain.optimize(NoisyBoundaryProblem(noise=noise, seed=seed), n_trials=budget)
    answers["best_observed"] = best_observed(plain)
    answers["recommend"] = _recommend_answer(plain)

    study = _study(_make_sampler(sampler_name, seed))
    problem = NoisyBoundaryProblem(noise=noise, seed=seed)
    study.optimize(problem, n_trials=budget - reeval)
    targets = top_k_configs(study, top_k)
    if targets:
        for i in range(reeval):
            study.enqueue_trial(targets[i % len(targets)])
    study.optimize(problem, n_trials=reeval)  # random/sampler trials when nothing to re-run
    assert len(study.trials) == budget
    answers["topk_reeval"] = _recommend_answer(study)

    study = _study(_make_sampler(sampler_name, seed))
    problem = NoisyBoundaryProblem(noise=noise, seed=seed)
    study.optimize(problem, n_trials=budget - reeval)
    for _ in range(reeval):
        target = next_verification(study)
        if target is not None:
            study.enqueue_trial(target)
        study.optimize(problem, n_trials=1)  # a sampler trial when nothing needs verifying
    assert len(study.trials) == budget
    answers["sequential_reeval"] = _recommend_answer(study)

    if sampler_name == "tba_hybrid" and _has_reevaluation():
        frac = min(0.5, reeval / budget)
        study = _study(_make_sampler(sampler_name, seed, reevaluation=frac))
        study.optimize(NoisyBoundaryProblem(noise=noise, seed=seed), n_trials=budget)
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


def score(problem: NoisyBoundaryProblem, answers: list[Answer]) -> dict[str, Any]:
    """Aggregate answers of one strategy over seeds."""
    probs: list[float] = []
    truths: list[float] = []
    statuses: dict[str, int] = {}
    oracle_params = problem.oracle_params()
    hits = sum(params == oracle_params for params, _ in answers)
    for params, status in answers:
        statuses[status] = statuses.get(status, 0) + 1
        if params is None:
            probs.append(0.0)
            continue
        probs.append(problem.feasibility_probability(params))
        truths.append(problem.truth(params))
    p = np.asarray(probs)
    t = np.asarray(truths, dtype=float)
    oracle = problem.oracle()
    return {
        "runs": len(answers),
        "reliable_fraction": float(np.mean(p >= 0.9)),
        "mean_true_feasibility": float(p.mean()),
        "oracle_hit_fraction": hits / len(answers),
        "answered": int(t.size),
        "true_value_mean": float(t.mean()) if t.size else None,
        "true_value_sd": float(t.std(ddof=1)) if t.size > 1 else None,
        "regret_mean": float((t - oracle).mean()) if t.size else None,
        "statuses": statuses,
        "per_run": [
            {"params": params, "status": status,
             "true_phi": None if params is None else problem.feasibility_probability(params),
             "true_value": None if params is None else problem.truth(params)}
            for params, status in answers
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--reeval-fraction", type=float, default=0.3)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.08)
    parser.add_argument("--samplers", default="random,tpe,tba_hybrid",
                        help="comma-separated sampler names (unavailable ones are skipped)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.budget < 10 or args.top_k < 1:
        parser.error("need --seeds >= 1, --budget >= 10, --top-k >= 1")
    if not 0.0 <= args.reeval_fraction < 1.0:
        parser.error("--reeval-fraction must be in [0, 1)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    reeval = round(args.reeval_fraction * args.budget)
    problem = NoisyBoundaryProblem(noise=args.noise)
    print(f"noisy_boundary: noise={args.noise}, oracle={problem.oracle():.3f} at "
          f"{problem.oracle_params()}, budget={args.budget}, re-evaluations={reeval} "
          f"(top-{args.top_k}), seeds={args.seeds}")
    results: dict[str, Any] = {"settings": vars(args), "oracle": problem.oracle(),
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
                                      args.noise).items():
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
