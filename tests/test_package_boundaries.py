"""deploybench is an objective package for any sampler: it must not import optuna_tba, and
importing it must not pull in torch."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_deploybench_never_imports_optuna_tba_or_torch_at_import() -> None:
    mods = _modules_after(
        "import deploybench, deploybench.cli, deploybench.problems, deploybench.compare, "
        "deploybench.tables, deploybench.probe, deploybench.samplers"
    )
    assert "deploybench.compare" in mods  # the imports above really ran
    assert not any(m == "optuna_tba" or m.startswith("optuna_tba.") for m in mods)
    assert "torch" not in mods


def test_tba_hybrid_is_resolved_lazily_by_name() -> None:
    mods = _modules_after(
        "from deploybench.samplers import resolve_sampler\n"
        "spec = resolve_sampler('tba_hybrid')\n"
        "assert type(spec.build(0)).__name__ == 'TBAHybridSampler'"
    )
    assert "optuna_tba" in mods
