"""The crash screen of candidate moves: scoring several candidates at once gives exactly
the risk each gets on its own."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from optuna_tba._blacklist import Blacklist
from optuna_tba._moves import MoveConfig, Proposer
from optuna_tba._outcomes import Outcome, Record
from optuna_tba._space import VisitedSet, distances, random_value, unit_vector

SPACE = {
    "backend": CategoricalDistribution(["a", "b", "c"]),
    "batch": IntDistribution(1, 64, log=True),
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "x": FloatDistribution(0.0, 1.0),
}
OUTCOMES = [Outcome.FEASIBLE, Outcome.INFEASIBLE, Outcome.CRASH, Outcome.PRUNED]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_trials=st.integers(1, 30), n_cands=st.integers(1, 8))
def test_batched_risks_equal_the_single_candidate_risk(
    seed: int, n_trials: int, n_cands: int
) -> None:
    rng = np.random.default_rng(seed)

    def config() -> dict[str, object]:
        # Some parameters absent, as in a conditional space.
        return {n: random_value(d, n, rng) for n, d in SPACE.items() if rng.random() < 0.85}

    recs = [
        Record(i, config(), OUTCOMES[int(rng.integers(4))], 0.0, 0.0, "phase1")
        for i in range(n_trials)
    ]
    proposer = Proposer(
        SPACE, recs, Blacklist(set(), set()), VisitedSet(), MoveConfig(), rng
    )
    cands = [config() for _ in range(n_cands)]
    batched = proposer._screening_risks(cands)
    # one candidate at a time, from its own distance vector
    single = np.array([
        float(proposer._kernel_risk(distances(unit_vector(c, SPACE), proposer._points,
                                              proposer._mask)))
        for c in cands
    ])
    assert np.array_equal(batched, single)
    assert ((batched >= 0.0) & (batched <= 1.0)).all()
