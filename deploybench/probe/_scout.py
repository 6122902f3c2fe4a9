"""Scouting: one quick measurement per configuration, and choosing a cap around them.

A boundary probe needs configurations whose p95 is close to the cap. When no study or
table exists yet, :func:`scout` measures each listed configuration once to obtain a prior
p95, and :func:`suggest_cap` picks the cap that puts the most scouted configurations in
the gray zone while keeping at least one on each side of it (ties: the median candidate).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from deploybench.probe._measure import ProfileFn, _safe_profile
from deploybench.probe._select import Candidate, assign_zone
from deploybench.profiling._types import DeployConfig, ProfileSettings


def scout(configs: Sequence[DeployConfig], settings: ProfileSettings, profile_fn: ProfileFn,
          *, progress: bool = True,
          cache_path: str | os.PathLike[str] | None = None) -> list[Candidate]:
    """Measure each configuration once; configurations that crash are dropped.

    With ``cache_path`` every measurement is appended to that JSON Lines file as soon as
    it is made (``{"config": ..., "latency_p95_ms": x | null, "status": ...}``) and
    configurations already in it are not measured again, so an interrupted scout resumes.
    """
    done: dict[str, float | None] = {}
    path = Path(cache_path) if cache_path is not None else None
    if path is not None and path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
                done[DeployConfig.from_dict(item["config"]).key()] = item.get("latency_p95_ms")
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a torn last line from an interruption
    for config in tqdm(configs, desc="scout", unit="cfg", disable=not progress):
        if config.key() in done:
            continue
        result = _safe_profile(profile_fn, config, settings)
        p95 = result.latency_p95_ms if result.status == "ok" else None
        done[config.key()] = None if p95 is None else float(p95)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"config": config.to_dict(), "latency_p95_ms": p95,
                                    "status": result.status}) + "\n")
    return [Candidate(c, float(p), "scout") for c in configs
            if (p := done.get(c.key())) is not None]


def suggest_cap(candidates: Sequence[Candidate], margin: float = 0.1,
                near_width: float = 0.2) -> float:
    """A cap (one of the candidates' p95 values) that maximises the gray-zone count.

    Only caps leaving at least one candidate strictly below and one strictly above the
    gray zone are considered when such a cap exists.
    """
    p95s = sorted(c.p95_ms for c in candidates if math.isfinite(c.p95_ms) and c.p95_ms > 0)
    if not p95s:
        raise ValueError("no scouted configuration has a p95; cannot suggest a cap")

    def score(cap: float) -> tuple[int, int, float]:
        zones = [assign_zone(p / cap, margin, near_width) for p in p95s]
        gray = zones.count("gray")
        below = any(z in ("deep_feasible", "near_feasible") for z in zones)
        above = any(z in ("near_infeasible", "deep_infeasible") for z in zones)
        sides = int(below and above)
        return sides, gray, -abs(cap - float(np.median(p95s)))

    return max(p95s, key=score)
