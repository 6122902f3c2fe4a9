"""The phase and reason are readable inside the objective and stored on the trial."""

from __future__ import annotations

import optuna

from optuna_tba import TBAHybridSampler


def test_phase_and_reason_visible_inside_objective_and_stored() -> None:
    seen: list[tuple[object, object]] = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        seen.append((trial.user_attrs.get("tba_phase"), trial.user_attrs.get("tba_reason")))
        return x

    study = optuna.create_study(sampler=TBAHybridSampler(seed=0, max_phase1_trials=6))
    study.optimize(objective, n_trials=10)
    phases = [p for p, _ in seen]
    assert phases[:5] == ["phase1"] * 5 and phases[-1] == "phase2"
    assert all(isinstance(r, str) and r for _, r in seen)
    stored = [t.user_attrs["tba_phase"] for t in study.trials]
    assert stored == phases
