"""The OptunaHub package in ``examples/optunahub/package`` loads offline and works."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import optuna
import optunahub
import pytest
import yaml

pytest.importorskip("optuna_tba")

REPO = Path(__file__).resolve().parents[1]
REGISTRY_ROOT = REPO / "examples" / "optunahub" / "package"
PACKAGE = "samplers/tba_hybrid"
PACKAGE_DIR = REGISTRY_ROOT / PACKAGE


def _load() -> ModuleType:
    return optunahub.load_local_module(package=PACKAGE, registry_root=str(REGISTRY_ROOT))


def _front_matter() -> dict[str, object]:
    text = (PACKAGE_DIR / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "README.md must start with a YAML front-matter block"
    block = text.split("---\n", 2)[1]
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    return data


def test_package_layout_is_complete() -> None:
    for name in ("__init__.py", "README.md", "LICENSE", "example.py", "requirements.txt"):
        assert (PACKAGE_DIR / name).is_file(), f"missing {name}"
    assert any((PACKAGE_DIR / "tests").glob("test_*.py"))
    requirements = (PACKAGE_DIR / "requirements.txt").read_text().split()
    assert any(r.startswith("optuna-tba") for r in requirements)


def test_readme_front_matter_has_the_registry_fields() -> None:
    meta = _front_matter()
    for key in ("author", "title", "description", "tags", "optuna_versions", "license"):
        assert meta.get(key), f"front-matter lacks {key}"
    tags = meta["tags"]
    assert isinstance(tags, list) and "sampler" in tags
    versions = [str(v) for v in meta["optuna_versions"]]  # type: ignore[attr-defined]
    assert optuna.__version__ in versions, "list the Optuna version the package was tested with"
    assert "MIT" in str(meta["license"])
    assert "MIT License" in (PACKAGE_DIR / "LICENSE").read_text()


def test_load_local_module_reexports_the_installed_sampler() -> None:
    import optuna_tba

    module = _load()
    assert module.__name__ == "optunahub_registry.package.samplers.tba_hybrid"
    assert module.TBAHybridSampler is optuna_tba.TBAHybridSampler
    assert module.TBASampler is optuna_tba.TBASampler


def test_hub_sampler_runs_the_package_example_objective() -> None:
    spec = importlib.util.spec_from_file_location("tba_hub_example", PACKAGE_DIR / "example.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)  # defines the objective; main block not run

    module = _load()
    study = optuna.create_study(sampler=module.TBAHybridSampler(seed=1))
    study.optimize(example.objective, n_trials=25, catch=(RuntimeError,))
    assert len(study.trials) == 25
    assert all("tba_phase" in t.user_attrs for t in study.trials)
    best = study.best_trial
    assert all(v <= 0.0 for v in best.constraints.values())


def test_package_own_tests_pass() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(PACKAGE_DIR / "tests")],
        cwd=PACKAGE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
