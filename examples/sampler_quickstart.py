"""Quick start: ``TBAHybridSampler`` on your own crash-prone objective.

The objective below stands in for a real deployment job: some configurations crash
(an exception is raised, Optuna records the trial as FAIL), the others are measured
and report their limits with ``trial.set_constraint`` (a value <= 0 means satisfied).

Run::

    python examples/sampler_quickstart.py --n-trials 40 --seed 0
"""

from __future__ import annotations

import argparse
import collections

import optuna

from optuna_tba import TBAHybridSampler

LATENCY_CAP_MS = 20.0
MEMORY_CAP_MB = 512.0

# model -> (accuracy, milliseconds per image at fp32 on one thread, weight megabytes)
MODELS: dict[str, tuple[float, float, float]] = {
    "tiny": (0.70, 1.5, 40.0),
    "small": (0.76, 3.0, 90.0),
    "base": (0.81, 7.0, 200.0),
    "large": (0.85, 16.0, 420.0),
}
PRECISION_SPEEDUP = {"fp32": 1.0, "fp16": 0.6, "int8": 0.45}
PRECISION_MEMORY = {"fp32": 1.0, "fp16": 0.5, "int8": 0.3}
PRECISION_ACCURACY_LOSS = {"fp32": 0.0, "fp16": 0.002, "int8": 0.015}


class DeploymentCrash(RuntimeError):
    """A configuration that cannot run at all (missing kernel, out of memory...)."""


def objective(trial: optuna.trial.BaseTrial) -> float:
    """Accuracy of one configuration; raises ``DeploymentCrash`` when it cannot run."""
    model = trial.suggest_categorical("model", list(MODELS))
    precision = trial.suggest_categorical("precision", list(PRECISION_SPEEDUP))
    batch = trial.suggest_int("batch", 1, 32, log=True)
    threads = trial.suggest_int("threads", 1, 8)

    accuracy, ms_per_image, weights_mb = MODELS[model]
    if precision == "fp16" and model in ("tiny", "small"):
        raise DeploymentCrash(f"no fp16 kernel for {model}")
    memory_mb = weights_mb * PRECISION_MEMORY[precision] + 0.12 * weights_mb * batch
    if memory_mb > 2 * MEMORY_CAP_MB:
        raise DeploymentCrash(f"out of memory: {memory_mb:.0f} MB")
    latency_ms = ms_per_image * PRECISION_SPEEDUP[precision] * batch**0.8 / threads**0.6 + 0.5

    trial.set_user_attr("latency_ms", latency_ms)
    trial.set_user_attr("memory_mb", memory_mb)
    # Relative violations, so that milliseconds and megabytes never get added together.
    trial.set_constraint("latency", latency_ms / LATENCY_CAP_MS - 1.0)
    trial.set_constraint("memory", memory_mb / MEMORY_CAP_MB - 1.0)
    return accuracy - PRECISION_ACCURACY_LOSS[precision]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40, help="trial budget (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    args = parser.parse_args(argv)
    if args.n_trials < 1:
        parser.error("--n-trials must be >= 1")

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # crashes are expected: keep quiet
    sampler = TBAHybridSampler(seed=args.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    # catch=... records a crash as a FAIL trial and keeps going; the sampler learns from it.
    study.optimize(objective, n_trials=args.n_trials, catch=(DeploymentCrash,))

    states = collections.Counter(t.state.name for t in study.trials)
    phases = collections.Counter(str(t.user_attrs.get("tba_phase")) for t in study.trials)
    print(f"trials: {len(study.trials)}  states: {dict(states)}")
    print(f"sampler phases: {dict(phases)}")
    try:
        best = study.best_trial  # Optuna 5: the best *feasible* trial
    except ValueError:
        print("no feasible configuration found")
        return 1
    print(f"best feasible trial #{best.number}: accuracy={best.value:.4f} params={best.params}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
