"""Name -> problem factory registry, with prefix dispatch for families such as ``replay:``.

``get_problem("crashy_branin", seed=3)`` builds a fresh problem. A factory registered for a
prefix (``register_problem("replay:", factory)``, the name ending in ``:``) receives the
full name, e.g. ``factory("replay:edge_cpu:tight", **kwargs)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from deploybench.problems._base import Problem

ProblemFactory = Callable[..., Problem]


@dataclasses.dataclass
class ProblemRegistry:
    """Explicit registry object (the module keeps one default instance)."""

    factories: dict[str, ProblemFactory] = dataclasses.field(default_factory=dict)
    prefixes: dict[str, ProblemFactory] = dataclasses.field(default_factory=dict)

    def register(self, name: str, factory: ProblemFactory, *, replace: bool = False) -> None:
        """Register ``factory`` under ``name``; a name ending in ``:`` registers a prefix."""
        if not isinstance(name, str) or not name:
            raise ValueError("problem name must be a non-empty string")
        if not callable(factory):
            raise TypeError(f"factory for {name!r} is not callable")
        table = self.prefixes if name.endswith(":") else self.factories
        if name in table and not replace and table[name] is not factory:
            raise ValueError(f"problem {name!r} is already registered (pass replace=True)")
        table[name] = factory

    def names(self) -> list[str]:
        """Registered plain names (sorted); prefixes are listed as ``prefix<...>``."""
        return sorted(self.factories) + sorted(f"{p}<...>" for p in self.prefixes)

    def get(self, name: str, **kwargs: Any) -> Problem:
        if name in self.factories:
            return self.factories[name](**kwargs)
        for prefix, factory in self.prefixes.items():
            if name.startswith(prefix):
                return factory(name, **kwargs)
        known = ", ".join(self.names()) or "(none)"
        raise KeyError(f"unknown problem {name!r}; known problems: {known}")
