"""Worker process: optimise a toy objective with a TBA sampler on a given storage.

Run as ``python -m _workers.run_study ...`` with the ``tests`` directory on ``PYTHONPATH``.
With ``--print-params`` it prints the parameters of every trial of the study, in trial
order, as one JSON list on stdout (used by the cross-process determinism test).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import optuna
from optuna.storages.journal import JournalFileBackend

from _workers.objectives import OBJECTIVES, ToyCrash
from optuna_tba import TBAHybridSampler, TBASampler

SAMPLERS = {"hybrid": TBAHybridSampler, "pure": TBASampler}


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--storage", help="RDB URL, e.g. sqlite:///x.db")
    target.add_argument("--journal", help="path of a JournalFileBackend log file")
    parser.add_argument("--study-name", default="toy")
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="crashy_discrete")
    parser.add_argument("--sampler", choices=sorted(SAMPLERS), default="hybrid")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--n-trials", type=int, required=True)
    parser.add_argument("--sampler-kwargs", default="{}", help="JSON object")
    parser.add_argument("--worker", default="0", help="tag stored as user attr 'worker'")
    parser.add_argument("--print-params", action="store_true")
    return parser.parse_args(argv)


def _storage(args: argparse.Namespace) -> optuna.storages.BaseStorage | str | None:
    if args.journal:
        backend = JournalFileBackend(args.journal)
        return optuna.storages.JournalStorage(backend)
    return args.storage  # type: ignore[no-any-return]


def main(argv: Sequence[str]) -> int:
    """Run the worker; returns the process exit code."""
    args = _parse(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = SAMPLERS[args.sampler](seed=args.seed, **json.loads(args.sampler_kwargs))
    study = optuna.create_study(
        storage=_storage(args),
        study_name=args.study_name,
        sampler=sampler,
        direction="maximize",
        load_if_exists=True,
    )
    objective = OBJECTIVES[args.objective]

    def tagged(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", args.worker)
        return objective(trial)

    study.optimize(tagged, n_trials=args.n_trials, catch=(ToyCrash,))
    if args.print_params:
        print(json.dumps([t.params for t in study.trials]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
