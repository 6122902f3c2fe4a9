"""Optuna's own sampler test battery (``optuna.testing.pytest_samplers``) run on our samplers.

Both samplers are single-objective only, so they get the basic, relative and single-only
cases; ``MultiObjectiveSamplerTestCase`` is deliberately not used (the single-only case
checks that a multi-objective study is refused with ``ValueError`` instead).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    RelativeSamplerTestCase,
    SingleOnlySamplerTestCase,
)

from optuna_tba import TBAHybridSampler, TBASampler


class _HybridFixture:
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: TBAHybridSampler(seed=0)


class _PureFixture:
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: TBASampler(seed=0)


class TestHybridBasic(_HybridFixture, BasicSamplerTestCase):
    """Basic cases for :class:`TBAHybridSampler`."""


class TestHybridRelative(_HybridFixture, RelativeSamplerTestCase):
    """Relative-sampling cases for :class:`TBAHybridSampler`."""


class TestHybridSingleOnly(_HybridFixture, SingleOnlySamplerTestCase):
    """Multi-objective studies are refused by :class:`TBAHybridSampler`."""


class TestPureBasic(_PureFixture, BasicSamplerTestCase):
    """Basic cases for :class:`TBASampler`."""


class TestPureRelative(_PureFixture, RelativeSamplerTestCase):
    """Relative-sampling cases for :class:`TBASampler`."""


class TestPureSingleOnly(_PureFixture, SingleOnlySamplerTestCase):
    """Multi-objective studies are refused by :class:`TBASampler`."""
