"""Binomial statistics of a boundary probe: feasibility fraction, flip rate, Wilson bounds.

For a configuration measured ``n`` times with ``k`` feasible repeats:

* ``phi = k / n`` is the feasibility fraction;
* the flip rate ``min(phi, 1 - phi)`` is the probability that one repeat disagrees with
  the majority verdict (0 for a configuration that is always or never feasible, 0.5 for
  a coin flip);
* the Wilson score interval at level ``level`` bounds ``phi``; the flip-rate interval is
  its image under ``g(p) = min(p, 1 - p)`` (``g`` rises to 0.5 and falls again, so the
  upper end is 0.5 whenever the ``phi`` interval contains 0.5).
"""

from __future__ import annotations

import math

from scipy.stats import norm


def _check_counts(k: int, n: int) -> None:
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if int(k) != k or not 0 <= k <= n:
        raise ValueError(f"k must be an integer in [0, n={n}], got {k!r}")


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion ``k / n``.

    Args:
        k: Number of successes.
        n: Number of trials (>= 1).
        level: Two-sided coverage, e.g. 0.95.

    Returns:
        ``(low, high)`` with ``0 <= low <= k/n <= high <= 1``.
    """
    _check_counts(k, n)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    z = float(norm.ppf(0.5 + level / 2.0))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def flip_rate(k: int, n: int) -> float:
    """``min(phi, 1 - phi)`` with ``phi = k / n``."""
    _check_counts(k, n)
    phi = k / n
    return min(phi, 1.0 - phi)


def flip_rate_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Image of the Wilson interval of ``phi`` under ``min(p, 1 - p)``."""
    low, high = wilson_interval(k, n, level)

    def g(p: float) -> float:
        return min(p, 1.0 - p)

    upper = 0.5 if low <= 0.5 <= high else max(g(low), g(high))
    return min(g(low), g(high)), upper
