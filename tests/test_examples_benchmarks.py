"""The benchmark scripts in examples/ run (tiny settings), so they cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_every_example_script_has_a_test() -> None:
    tested_here = {"benchmark_overhead.py"}
    tested_elsewhere = {  # tests/test_examples.py and tests/test_recommend.py
        "sampler_quickstart.py", "dashboard.py", "multi_worker_journal.py",
        "multi_worker_postgres.py", "replay_compare.py", "deploy_live.py",
        "recommend_benefit.py",
    }
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    assert scripts <= tested_here | tested_elsewhere, scripts - tested_here - tested_elsewhere


@pytest.mark.slow
def test_benchmark_overhead_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "benchmark_overhead.py"), "--trials", "15",
         "--repeats", "1"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    header, row = out.strip().splitlines()[:2]
    assert "ratio" in header
    fields = row.split()
    assert fields[0] == "15" and float(fields[3]) > 0
