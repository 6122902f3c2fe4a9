"""optuna-dashboard shows a TBAHybridSampler study: trials, phases and constraints.

The study is served in-process through ``optuna_dashboard.wsgi`` by a wsgiref server on
127.0.0.1 and read back through the dashboard's own JSON API.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import optuna
import pytest

from deploybench._constraints import report_constraints

pytest.importorskip("optuna_tba")
optuna_dashboard = pytest.importorskip("optuna_dashboard")

from optuna_tba import TBAHybridSampler  # noqa: E402

N_TRIALS = 24
STUDY_NAME = "dashboard-test"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Crash(RuntimeError):
    pass


def _objective(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["a", "b", "c"])
    x = trial.suggest_float("x", 0.0, 10.0)
    n = trial.suggest_int("n", 1, 8)
    if kind == "c" and x > 5.0:
        raise Crash("region c/x>5 crashes")
    report_constraints(trial, {"x_cap": (x - 7.0) / 10.0, "n_cap": (n - 6.0) / 8.0})
    return (x - 6.0) ** 2 + n + (1.0 if kind == "a" else 0.0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, optuna.Study]]:
    path = tmp_path_factory.mktemp("dash") / "study.db"
    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=storage, sampler=TBAHybridSampler(seed=0)
    )
    study.optimize(_objective, n_trials=N_TRIALS, catch=(Crash,))

    app = optuna_dashboard.wsgi(storage)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", study
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _as_shown(value: Any) -> str:
    """How optuna-dashboard renders a user attribute value."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read().decode("utf-8"))


def _study_detail(base: str) -> dict[str, Any]:
    studies = _get(f"{base}/api/studies")["study_summaries"]
    matching = [s for s in studies if s["study_name"] == STUDY_NAME]
    assert len(matching) == 1, studies
    return _get(f"{base}/api/studies/{matching[0]['study_id']}")  # type: ignore[no-any-return]


def test_meta_endpoint_answers(served: tuple[str, optuna.Study]) -> None:
    base, _ = served
    meta = _get(f"{base}/api/meta")
    assert isinstance(meta, dict) and meta


def test_every_trial_is_listed_with_its_state(served: tuple[str, optuna.Study]) -> None:
    base, study = served
    trials = _study_detail(base)["trials"]
    assert [t["number"] for t in trials] == list(range(N_TRIALS))
    expected = {t.number: t.state.name for t in study.trials}
    assert {t["number"]: t["state"].upper() for t in trials} == expected
    assert any(t["state"].upper() == "FAIL" for t in trials), "the objective should crash sometimes"
    for api_trial, trial in zip(trials, study.trials):
        shown = {p["name"]: p["param_external_value"] for p in api_trial["params"]}
        assert shown == {k: str(v) for k, v in trial.params.items()}


def test_sampler_user_attrs_are_visible(served: tuple[str, optuna.Study]) -> None:
    base, study = served
    detail = _study_detail(base)
    union_keys = {a["key"] for a in detail["union_user_attrs"]}
    assert {"tba_phase", "tba_reason"} <= union_keys
    for api_trial, trial in zip(detail["trials"], study.trials):
        attrs = {a["key"]: a["value"] for a in api_trial["user_attrs"]}
        for key in ("tba_phase", "tba_reason"):
            assert attrs[key] == _as_shown(trial.user_attrs[key])


def test_constraints_are_visible(served: tuple[str, optuna.Study]) -> None:
    base, study = served
    by_number = {t.number: t for t in study.trials}
    completed = [
        t for t in _study_detail(base)["trials"] if t["state"].upper() == "COMPLETE"
    ]
    assert completed
    for api_trial in completed:
        trial = by_number[api_trial["number"]]
        expected = [
            (trial.params["x"] - 7.0) / 10.0,
            (trial.params["n"] - 6.0) / 8.0,
        ]
        assert api_trial["constraints"] == pytest.approx(expected)
    feasible = [t for t in completed if all(c <= 0 for c in t["constraints"])]
    assert feasible, "the dashboard should show at least one feasible trial"
