"""Shared test fixtures (kept deliberately small)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from hypothesis import settings

TESTS_DIR = Path(__file__).resolve().parent

#: Property tests draw the same examples on every run, so that CI is reproducible: a case
#: that fails is kept as an explicit ``@example`` rather than found by chance in CI.
#: ``TBA_HYPOTHESIS_EXPLORE=1`` draws fresh random examples (and shrinks failures) while
#: hunting for new ones.
settings.register_profile("reproducible", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if os.environ.get("TBA_HYPOTHESIS_EXPLORE") else "reproducible")


@pytest.fixture(autouse=True)
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO logging during a test, then restore it."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(previous)


WorkerRunner = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def start_worker() -> Iterator[WorkerRunner]:
    """Start ``python -m _workers.<module> *args`` in a subprocess; returns the ``Popen``.

    ``tests/`` is put on ``PYTHONPATH`` so the worker can import ``_workers``. Extra
    environment variables may be passed as ``env={...}``. Workers still running at
    teardown are killed (by their own pid).
    """
    started: list[subprocess.Popen[str]] = []

    def start(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(
            [str(TESTS_DIR), *filter(None, [full_env.get("PYTHONPATH")])]
        )
        full_env.update(env or {})
        proc = subprocess.Popen(
            [sys.executable, "-m", f"_workers.{module}", *args],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
