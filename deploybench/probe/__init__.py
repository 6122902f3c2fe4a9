"""Boundary probe: re-measure configurations near a constraint cap to expose flips."""

from deploybench.probe._measure import (
    ProbeLogError,
    ProfileFn,
    probe_schedule,
    read_probe_log,
    run_probe,
)
from deploybench.probe._report import (
    ConfigProbeSummary,
    format_table,
    plot_flip,
    plot_p95,
    pooled,
    summarise_probe,
    write_summary,
)
from deploybench.probe._select import (
    DEFAULT_ZONE_SIZES,
    ZONES,
    Candidate,
    Selected,
    Selection,
    assign_zone,
    candidates_from_json,
    candidates_from_probe_log,
    candidates_from_study,
    candidates_from_table,
    parse_zone_sizes,
    select_candidates,
)
from deploybench.probe._stats import flip_rate, flip_rate_interval, wilson_interval

__all__ = [
    "DEFAULT_ZONE_SIZES",
    "ZONES",
    "Candidate",
    "ConfigProbeSummary",
    "ProbeLogError",
    "ProfileFn",
    "Selected",
    "Selection",
    "assign_zone",
    "candidates_from_json",
    "candidates_from_probe_log",
    "candidates_from_study",
    "candidates_from_table",
    "flip_rate",
    "flip_rate_interval",
    "format_table",
    "parse_zone_sizes",
    "plot_flip",
    "plot_p95",
    "pooled",
    "probe_schedule",
    "read_probe_log",
    "run_probe",
    "select_candidates",
    "summarise_probe",
    "wilson_interval",
    "write_summary",
]
