"""Family band: the best categorical member is feasible only in a narrow band.

``family`` picks one of five model families; ``clock`` in [0, 1] is a continuous operating
point and ``width`` in [0, 1] a size knob. Each family ``f`` has a quality ``base[f]``, a
preferred width ``w*[f]`` and a feasible band ``|clock - centre[f]| <= half_width[f]``:

===========  =====  =====  ======  ==========  ===============
family       base   w*     centre  half_width  crash
===========  =====  =====  ======  ==========  ===============
tiny         0.60   0.30   0.50    0.50        --
small        0.70   0.40   0.50    0.35        --
medium       0.78   0.50   0.45    0.25        --
large        0.84   0.60   0.60    0.12        width > 0.85
xl           0.92   0.70   0.70    0.04        width > 0.75
===========  =====  =====  ======  ==========  ===============

Maximise ``base - 0.2 (width - w*)^2 - 0.3 (clock - centre)^2``. The constraint
``band = |clock - centre| / half_width - 1 <= 0`` is already normalised. Crashes model an
out-of-memory failure of the big families at large width. Easy families are feasible almost
everywhere but worse; ``xl`` wins only inside an 8%-wide band of ``clock``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from deploybench.problems._space import SpaceSampler
from deploybench.problems._synthetic import Outcome, SyntheticProblem, crash

#: family -> (base quality, preferred width, band centre, band half-width, crash width or None)
FAMILIES: dict[str, tuple[float, float, float, float, float | None]] = {
    "tiny": (0.60, 0.30, 0.50, 0.50, None),
    "small": (0.70, 0.40, 0.50, 0.35, None),
    "medium": (0.78, 0.50, 0.45, 0.25, None),
    "large": (0.84, 0.60, 0.60, 0.12, 0.85),
    "xl": (0.92, 0.70, 0.70, 0.04, 0.75),
}


def _value(family: str, clock: float, width: float) -> float:
    base, w_star, centre, _, _ = FAMILIES[family]
    return base - 0.2 * (width - w_star) ** 2 - 0.3 * (clock - centre) ** 2


class FamilyBand(SyntheticProblem):
    """Family band (maximise, optimum 0.92 at ``xl``, clock 0.70, width 0.70)."""

    name = "family_band"
    direction = "maximize"
    constraint_keys = ("band",)
    discrete = False

    def evaluate(self, space: SpaceSampler, noise: np.random.Generator | None) -> Outcome:
        family = space.categorical("family", list(FAMILIES))
        clock = space.float("clock", 0.0, 1.0)
        width = space.float("width", 0.0, 1.0)
        _, _, centre, half_width, crash_width = FAMILIES[family]
        if crash_width is not None and width > crash_width:
            return crash(f"{family} out of memory at width > {crash_width}")
        band = abs(clock - centre) / half_width - 1.0
        return Outcome(_value(family, clock, width), {"band": band})

    def _compute_oracle(self) -> float:
        """Per family, L-BFGS-B over the feasible, crash-free box (band x width)."""
        best = -math.inf
        for family, (_, _, centre, half_width, crash_width) in FAMILIES.items():
            bounds = [
                (max(0.0, centre - half_width), min(1.0, centre + half_width)),
                (0.0, 1.0 if crash_width is None else crash_width),
            ]
            start = np.array([np.mean(bounds[0]), np.mean(bounds[1])])
            res = optimize.minimize(
                lambda x, f=family: -_value(f, float(x[0]), float(x[1])),
                start,
                method="L-BFGS-B",
                bounds=bounds,
            )
            best = max(best, -float(res.fun))
        return best
