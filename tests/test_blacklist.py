"""The blacklist's ban length: doubling on probation, cleared by a success."""

from __future__ import annotations

import math

from optuna.distributions import CategoricalDistribution

from optuna_tba._blacklist import Blacklist, ban_length
from optuna_tba._outcomes import Outcome, Record


def test_ban_doubles_with_each_crash_on_probation() -> None:
    """Threshold 2, cooldown 3: two crashes ban for 3 trials, a third for 6, a fourth for 12;
    a success clears the value for good."""
    space = {"c": CategoricalDistribution(["x", "y"])}

    def rec(number: int, outcome: Outcome, c: str = "x") -> Record:
        return Record(number, {"c": c}, outcome, None, math.inf, None)

    def banned(recs: list[Record], now: int) -> bool:
        bl = Blacklist.from_records(recs, space, threshold=2, cooldown=3, now=now)
        return bool(bl.singles)

    recs = [rec(0, Outcome.CRASH), rec(1, Outcome.CRASH)]
    assert [banned(recs, n) for n in (2, 4, 5)] == [True, True, False]
    assert ban_length(2, 2, 3) == 3 and ban_length(3, 2, 3) == 6 and ban_length(4, 2, 3) == 12
    recs.append(rec(5, Outcome.CRASH))  # crashed on probation: banned for 6 trials
    assert [banned(recs, n) for n in (11, 12)] == [True, False]
    recs.append(rec(12, Outcome.CRASH))
    assert [banned(recs, n) for n in (24, 25)] == [True, False]
    recs.append(rec(25, Outcome.FEASIBLE))
    assert not banned(recs, 26)
