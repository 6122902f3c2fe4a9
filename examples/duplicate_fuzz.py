"""Fuzz the no-duplicate promise on random define-by-run spaces.

Each seed builds a random conditional space: a root categorical picks one of 2-3
branches, each branch asks 1-3 parameters (small ints, log ints, categoricals, floats),
some spaces add a parameter every branch shares, a seeded hash of the configuration
crashes a share of them and sets a random constraint. Both samplers run ``--trials``
trials on it (sequentially, or with ``--jobs`` threads). A repeat is a finished trial
whose parameters equal an earlier finished trial's while the space still had an unvisited
configuration (``--show`` prints each with its reason).

A blacklist can leave only visited configurations among the allowed ones; the sampler then
repeats one rather than propose a banned value, by design. Run once more with the
blacklist off to tell those repeats from the ones the sampler promises never to make:

    python examples/duplicate_fuzz.py --seeds 100
    python examples/duplicate_fuzz.py --seeds 100 --blacklist-threshold 1000000

The sixteenth session found two kinds of repeats this way (a value whose
every completion was visited; a redrawn value that led the rest of a plan to a visited
configuration); ``tests/test_visited.py`` keeps both.
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import optuna

from optuna_tba import TBAHybridSampler, TBASampler

Objective = Callable[[optuna.Trial], float]
_LETTERS = ["a", "b", "c", "d", "e"]


def random_space(seed: int) -> tuple[Objective, float]:
    """A random conditional objective and its number of configurations (inf with a float)."""
    r = random.Random(seed)
    branches: dict[str, list[tuple[str, str, int]]] = {}
    for b in range(r.randint(2, 3)):
        branches[f"b{b}"] = [
            (f"p{b}_{j}", r.choice(["int", "cat", "float", "intlog"]), r.randint(2, 5))
            for j in range(r.randint(1, 3))
        ]
    shared = r.random() < 0.5
    crash_share = 0.5 * r.random()
    salt = r.randint(0, 10**6)

    def objective(trial: optuna.Trial) -> float:
        root = trial.suggest_categorical("root", list(branches))
        value = float(trial.suggest_int("shared", 1, 3)) if shared else 0.0
        for name, kind, k in branches[root]:
            if kind == "int":
                v = float(trial.suggest_int(name, 1, k))
            elif kind == "cat":
                v = float(_LETTERS.index(trial.suggest_categorical(name, _LETTERS[:k])))
            elif kind == "intlog":
                v = math.log(trial.suggest_int(name, 1, 2**k, log=True))
            else:
                v = trial.suggest_float(name, 0.0, 1.0)
            value += (v - 1.3) ** 2
        h = zlib.crc32(repr((salt, sorted((n, repr(p)) for n, p in trial.params.items()))).encode())
        if (h % 1000) / 1000 < crash_share:
            raise RuntimeError("crash")
        trial.set_constraint("limit", ((h >> 10) % 1000) / 1000 - 0.6)
        return value

    sizes = {"int": lambda k: k, "cat": lambda k: k, "intlog": lambda k: 2**k,
             "float": lambda k: math.inf}
    size = sum(
        (3 if shared else 1) * math.prod(sizes[kind](k) for _, kind, k in params)
        for params in branches.values()
    )
    return objective, float(size)


def repeats(study: optuna.Study, size: float) -> list[tuple[int, int, str]]:
    """``(trial, earlier trial, reason)`` for each repeat while the space was not used up."""
    seen: dict[tuple[tuple[str, str], ...], int] = {}
    out = []
    for t in study.trials:
        if not t.state.is_finished():
            continue
        key = tuple(sorted((n, repr(v)) for n, v in t.params.items()))
        if key in seen and len(seen) < size:
            out.append((t.number, seen[key], str(t.user_attrs.get("tba_reason", ""))))
        seen.setdefault(key, t.number)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--seed-start", type=int, default=0)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=1, help="threads per study (n_jobs)")
    parser.add_argument("--blacklist-threshold", type=int, default=None,
                        help="passed to both samplers (default: theirs)")
    parser.add_argument("--show", action="store_true", help="print every repeat")
    args = parser.parse_args(argv)
    for flag in ("seeds", "trials", "jobs"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be >= 1")
    if args.blacklist_threshold is not None and args.blacklist_threshold < 1:
        parser.error("--blacklist-threshold must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    kw: dict[str, Any] = {}
    if args.blacklist_threshold is not None:
        kw["blacklist_threshold"] = args.blacklist_threshold
    counts: dict[str, collections.Counter[str]] = {}
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        objective, size = random_space(seed)
        for cls in (TBAHybridSampler, TBASampler):
            study = optuna.create_study(sampler=cls(seed=seed, **kw))
            study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs,
                           catch=(RuntimeError,))
            found = repeats(study, size)
            c = counts.setdefault(cls.__name__, collections.Counter())
            c["studies"] += 1
            c["with"] += bool(found)
            c["repeats"] += len(found)
            for number, earlier, reason in found if args.show else []:
                print(f"seed {seed} {cls.__name__}: trial {number} repeats {earlier}: {reason}")
    for name, c in counts.items():
        print(f"{name}: {c['studies']} studies of {args.trials} trials, {c['with']} with "
              f"repeats, {c['repeats']} repeats")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
