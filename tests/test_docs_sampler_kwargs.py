"""Every ``--sampler-kwargs 'LABEL={...}'`` shown in the docs builds the sampler it names.

A documented ablation command with a misspelt constructor argument fails only when a user
runs it; this test runs the constructor for each one instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from optuna_tba import TBAHybridSampler

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
           *sorted((ROOT / "deploybench" / "commands").glob("*.py"))]
PATTERN = re.compile(r"'([A-Za-z0-9_]+)=(\{[^']*\})'")
#: Labels of the built-in samplers that are not the hybrid (their kwargs go to Optuna).
OTHER_SAMPLERS = {"random", "tpe", "tpe_prune", "gp", "qmc", "tba"}


def documented_kwargs() -> list[tuple[str, str, str]]:
    found = []
    for path in SOURCES:
        for label, spec in PATTERN.findall(path.read_text(encoding="utf-8")):
            if label not in OTHER_SAMPLERS:
                found.append((path.relative_to(ROOT).as_posix(), label, spec))
    return found


def test_the_docs_show_sampler_kwargs() -> None:
    assert len(documented_kwargs()) >= 10


@pytest.mark.parametrize(("source", "label", "spec"), documented_kwargs())
def test_documented_hybrid_kwargs_construct(source: str, label: str, spec: str) -> None:
    kwargs: dict[str, Any] = {
        k: 25 if v == "$budget" else v for k, v in json.loads(spec).items()
    }
    TBAHybridSampler(seed=0, **kwargs)  # a TypeError/ValueError here is a broken doc command
