"""Blacklisting of categorical values and value pairs that keep crashing.

Blame rule (derived from the history alone):

* A single value ``(param, v)`` is blamed for a crash only while it has **never run
  successfully** (a success is any trial that did not crash). A value that worked in another
  configuration is not the culprit on its own; a success clears it for good.
* A pair ``((p1, v1), (p2, v2))`` is blamed for a crash while the pair has never run
  successfully *and* neither value alone is already blamed for that crash, so one bad
  value does not smear every pair it appears in.
* An item with ``c >= threshold`` blamed crashes is banned until
  ``cooldown * 2 ** (c - threshold)`` trials have been *started* after its latest blamed
  crash (:func:`ban_length`). A crash on probation bans it again at once, for twice as
  long: crashes are deterministic by default, so each further crash of an item that never
  ran is more evidence that it never will, while a ban is never permanent in case the
  blame was wrong.
* Transient failures are never blamed.
* Safety valve: a parameter never has all of its choices banned. When every choice would be
  banned the ban is lifted for that parameter (see :meth:`Blacklist.allowed`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution

from optuna_tba._outcomes import Outcome, Record
from optuna_tba._space import value_key

Item = tuple[str, str]  # (param name, value key)
_RAN = (Outcome.FEASIBLE, Outcome.INFEASIBLE, Outcome.PRUNED)


@dataclasses.dataclass
class Blacklist:
    """Banned single values and pairs at a given point of the history."""

    singles: set[Item]
    pairs: set[frozenset[Item]]

    @classmethod
    def from_records(
        cls,
        recs: Sequence[Record],
        space: Mapping[str, BaseDistribution],
        *,
        threshold: int,
        cooldown: int,
        now: int,
        items_cache: dict[Any, Any] | None = None,
        study_key: Any = None,
    ) -> Blacklist:
        """Compute the blacklist in force for a trial numbered ``now``.

        ``items_cache`` caches the categorical items of finished trials, keyed by
        ``study_key`` and trial number.
        """
        cat = {n for n, d in space.items() if isinstance(d, CategoricalDistribution)}
        if not cat:
            return cls(set(), set())
        cache = items_cache if items_cache is not None else {}
        sig = tuple(sorted(cat))

        def items_of(r: Record) -> list[Item]:
            key = (study_key, r.number, sig)
            hit = cache.get(key)
            if hit is None:
                hit = cache[key] = _items(r.params, cat)
            return hit

        # Items that ran successfully only grow with the history: kept per study and space.
        ok_key = ("ok", study_key, sig)
        seen, ok_singles, ok_pairs = cache.setdefault(ok_key, (set(), set(), set()))
        for r in recs:
            if r.outcome in _RAN and r.number not in seen:
                items = items_of(r)
                ok_singles.update(items)
                ok_pairs.update(frozenset(p) for p in itertools.combinations(items, 2))
                seen.add(r.number)

        count: dict[Any, int] = {}
        last: dict[Any, int] = {}
        for r in recs:
            if r.outcome is not Outcome.CRASH:
                continue
            items = items_of(r)
            blamed_singles = [i for i in items if i not in ok_singles]
            for i in blamed_singles:
                count[i] = count.get(i, 0) + 1
                last[i] = r.number
            for a, b in itertools.combinations(items, 2):
                pair = frozenset((a, b))
                if pair in ok_pairs or a in blamed_singles or b in blamed_singles:
                    continue
                count[pair] = count.get(pair, 0) + 1
                last[pair] = r.number

        singles: set[Item] = set()
        pairs: set[frozenset[Item]] = set()
        for item, c in count.items():
            if c < threshold or now - last[item] > ban_length(c, threshold, cooldown):
                continue
            if isinstance(item, frozenset):
                pairs.add(item)
            else:
                singles.add(item)
        return cls(singles, pairs)

    def allowed(
        self, name: str, dist: CategoricalDistribution, context: Mapping[str, Any]
    ) -> list[Any]:
        """Choices of ``name`` not banned alone nor in a pair with ``context`` values.

        Safety valve: if pair bans leave nothing, pair bans are ignored; if single bans
        leave nothing, every choice is allowed.
        """
        choices = list(dist.choices)
        if not self.singles and not self.pairs:
            return choices
        ok = [c for c in choices if (name, value_key(c)) not in self.singles]
        if not ok:
            return choices
        if not self.pairs:
            return ok
        ctx = [(n, value_key(v)) for n, v in context.items() if n != name]
        ok_pairs = [
            c
            for c in ok
            if not any(frozenset(((name, value_key(c)), x)) in self.pairs for x in ctx)
        ]
        return ok_pairs or ok

    def violations(self, params: Mapping[str, Any], space: Mapping[str, BaseDistribution]) -> int:
        """Number of banned singles and pairs in ``params`` whose parameter has an
        allowed alternative."""
        cat = {n for n, d in space.items() if isinstance(d, CategoricalDistribution)}
        items = _items(params, cat)
        bad = 0
        for name, key in items:
            if (name, key) in self.singles:
                dist = space[name]
                assert isinstance(dist, CategoricalDistribution)
                if any((name, value_key(c)) not in self.singles for c in dist.choices):
                    bad += 1
        for a, b in itertools.combinations(items, 2):
            if frozenset((a, b)) in self.pairs:
                bad += 1
        return bad

    def __bool__(self) -> bool:
        return bool(self.singles or self.pairs)

    def describe(self) -> str:
        parts = [f"{n}={k.split(':', 1)[1]}" for n, k in sorted(self.singles)]
        parts += [" & ".join(f"{n}={k.split(':', 1)[1]}" for n, k in sorted(p)) for p in self.pairs]
        return ", ".join(sorted(parts))


def ban_length(count: int, threshold: int, cooldown: int) -> int:
    """Trials a ban lasts after the latest of ``count >= threshold`` blamed crashes."""
    return cooldown * 2 ** min(count - threshold, 16)


def _items(params: Mapping[str, Any], cat: set[str]) -> list[Item]:
    return [(n, value_key(v)) for n, v in sorted(params.items()) if n in cat]
