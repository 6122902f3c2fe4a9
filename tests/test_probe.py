"""Boundary probe: zones, selection, statistics, resumable measurement, report, CLI."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from scipy.stats import binomtest

from deploybench import probe
from deploybench.cli import main
from deploybench.probe._select import Candidate, config_from_params
from deploybench.profiling._types import DeployConfig, ProfileResult, ProfileSettings


def _cfg(bs: int, threads: int = 1, model: str = "mobilenet_v2") -> DeployConfig:
    return DeployConfig(model, "onnxruntime", "fp32", bs, threads)


# -- statistics ----------------------------------------------------------------------
def test_wilson_matches_hand_computed_values() -> None:
    lo, hi = probe.wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = probe.wilson_interval(0, 20)
    z2 = 1.959964**2
    assert lo == 0.0 and hi == pytest.approx(z2 / (20 + z2), rel=1e-6)  # 0.1611
    lo, hi = probe.wilson_interval(20, 20)
    assert hi == 1.0 and lo == pytest.approx(20 / (20 + z2), rel=1e-6)


@pytest.mark.parametrize(("k", "n"), [(1, 7), (8, 20), (13, 21), (39, 100)])
def test_wilson_agrees_with_scipy(k: int, n: int) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert probe.wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_flip_rate_and_interval_on_known_counts() -> None:
    assert probe.flip_rate(8, 20) == pytest.approx(0.4)
    assert probe.flip_rate(18, 20) == pytest.approx(0.1)
    assert probe.flip_rate(20, 20) == 0.0
    # phi = 0.4: Wilson [0.2188, 0.6134] contains 0.5 -> flip interval [0.2188, 0.5]
    lo, hi = probe.flip_rate_interval(8, 20)
    assert lo == pytest.approx(0.2188, abs=1e-4) and hi == 0.5
    # phi = 0.9: Wilson [0.6990, 0.9721] -> flip in [1 - 0.9721, 1 - 0.6990]
    lo, hi = probe.flip_rate_interval(18, 20)
    assert lo == pytest.approx(0.0279, abs=1e-4) and hi == pytest.approx(0.3010, abs=1e-4)


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, 0), (1.5, 3)])
def test_stats_reject_bad_counts(k: Any, n: Any) -> None:
    with pytest.raises(ValueError):
        probe.wilson_interval(k, n)


# -- zones and selection ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("ratio", "zone"),
    [(0.5, "deep_feasible"), (0.7, "near_feasible"), (0.89, "near_feasible"), (0.9, "gray"),
     (1.0, "gray"), (1.1, "gray"), (1.11, "near_infeasible"), (1.3, "near_infeasible"),
     (1.31, "deep_infeasible")],
)
def test_assign_zone(ratio: float, zone: str) -> None:
    assert probe.assign_zone(ratio, margin=0.1, near_width=0.2) == zone


def _hand_made() -> list[Candidate]:
    # cap 20 ms: ratios 0.3 .. 2.0
    p95s = {1: 6.0, 2: 8.0, 3: 14.0, 4: 16.0, 5: 18.5, 6: 19.5, 7: 20.5, 8: 21.5, 9: 23.0,
            10: 25.0, 11: 30.0, 12: 40.0}
    return [Candidate(_cfg(bs), p95, "hand") for bs, p95 in p95s.items()]


def test_selection_by_zone_is_deterministic_and_order_free() -> None:
    sizes = {"deep_feasible": 1, "near_feasible": 1, "gray": 3, "near_infeasible": 1,
             "deep_infeasible": 1}
    cands = _hand_made()
    a = probe.select_candidates(cands, 20.0, sizes, seed=3)
    b = probe.select_candidates(list(reversed(cands)), 20.0, sizes, seed=3)
    assert [s.candidate.config for s in a.selected] == [s.candidate.config for s in b.selected]
    zones = [s.zone for s in a.selected]
    assert zones.count("gray") == 3 and zones.count("deep_feasible") == 1
    gray = {s.candidate.config.batch_size for s in a.selected if s.zone == "gray"}
    assert gray <= {5, 6, 7, 8}  # 18.5, 19.5, 20.5, 21.5 ms are within 10 % of 20 ms
    assert a.available == {"deep_feasible": 2, "near_feasible": 2, "gray": 4,
                           "near_infeasible": 2, "deep_infeasible": 2}
    seeds = {tuple(s.candidate.config.batch_size for s in
                   probe.select_candidates(cands, 20.0, sizes, seed=k).selected)
             for k in range(8)}
    assert len(seeds) > 1, "the seed should change the choice within a zone"


def test_selection_reports_shortfall_and_merges_duplicates() -> None:
    cands = [*_hand_made(), Candidate(_cfg(6), 30.0, "dup")]  # bs6: median(19.5, 30) = 24.75
    sel = probe.select_candidates(cands, 20.0, {"gray": 5}, seed=0)
    assert sel.shortfall == {"gray": 2}
    assert {s.candidate.config.batch_size for s in sel.selected} == {5, 7, 8}
    with pytest.raises(ValueError, match="unknown zone"):
        probe.select_candidates(cands, 20.0, {"grey": 1})
    with pytest.raises(ValueError, match="cap_ms"):
        probe.select_candidates(cands, 0.0)


def test_parse_zone_sizes() -> None:
    sizes = probe.parse_zone_sizes("gray=6, deep_infeasible=0")
    assert sizes["gray"] == 6 and sizes["deep_infeasible"] == 0 and sizes["near_feasible"] == 2
    for bad in ("gray", "grey=2", "gray=x", "gray=-1"):
        with pytest.raises(ValueError):
            probe.parse_zone_sizes(bad)


def test_candidates_from_study(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    dists = {
        "model": optuna.distributions.CategoricalDistribution(["mobilenet_v2", "resnet18"]),
        "backend": optuna.distributions.CategoricalDistribution(["onnxruntime"]),
        "quant": optuna.distributions.CategoricalDistribution(["fp32", "int8_dynamic"]),
        "batch_size": optuna.distributions.IntDistribution(1, 32),
        "threads": optuna.distributions.IntDistribution(1, 8),
    }
    for bs, p95 in [(1, 10.0), (2, 19.0), (4, 40.0)]:
        study.add_trial(optuna.trial.create_trial(
            params={"model": "resnet18", "backend": "onnxruntime", "quant": "int8_dynamic",
                    "batch_size": bs, "threads": 2},
            distributions=dists, value=0.7, user_attrs={"latency_p95_ms": p95}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    cands = probe.candidates_from_study(storage, "s")
    assert [(c.config.batch_size, c.p95_ms, c.config.precision) for c in cands] == [
        (1, 10.0, "int8"), (2, 19.0, "int8"), (4, 40.0, "int8")]
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        probe.candidates_from_study(storage, "s", p95_attr="missing")
    with pytest.raises(ValueError, match="no study"):
        probe.candidates_from_study(storage, "nope")


def test_candidates_from_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps([
        {"config": _cfg(1).to_dict(), "latency_p95_ms": 12.0},
        {**_cfg(2).to_dict(), "p95_ms": 21.0},
    ]))
    cands = probe.candidates_from_json(path)
    assert [(c.config, c.p95_ms) for c in cands] == [(_cfg(1), 12.0), (_cfg(2), 21.0)]
    path.write_text(json.dumps([{"config": _cfg(1).to_dict()}]))
    with pytest.raises(ValueError, match="latency_p95_ms"):
        probe.candidates_from_json(path)
    with pytest.raises(ValueError, match="missing"):
        config_from_params({"model": "x"})


# -- schedule and measurement -----------------------------------------------------------
def _selection(n: int = 3) -> list[probe.Selected]:
    return list(probe.select_candidates(
        [Candidate(_cfg(bs), 18.0 + bs, "t") for bs in range(1, n + 1)], 20.0,
        {"gray": n}, seed=0).selected)


def test_schedule_pairs_cold_then_warm() -> None:
    sel = _selection(3)
    plan = probe.probe_schedule(sel, repeats=5, seed=1)
    assert len(plan) == 15
    counts: dict[str, list[int]] = {}
    for item in plan:
        counts.setdefault(item.selected.candidate.config.key(), []).append(item.repeat)
    assert all(sorted(r) == [0, 1, 2, 3, 4] for r in counts.values())
    for i, item in enumerate(plan):  # every odd repeat directly follows its even partner
        if item.repeat % 2 == 1:
            assert plan[i - 1].key == (item.key[0], item.repeat - 1)
    assert probe.probe_schedule(sel, 5, seed=1) == plan
    with pytest.raises(ValueError):
        probe.probe_schedule(sel, 0)


class FakeProfiler:
    """p95 = 18 + batch_size + a deterministic wiggle; records each call."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[str] = []
        self.fail_after = fail_after

    def __call__(self, config: DeployConfig, settings: ProfileSettings) -> ProfileResult:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append(config.key())
        wiggle = [-1.5, 1.5][len(self.calls) % 2]
        if len(self.calls) == 3:
            raise RuntimeError("boom")
        return ProfileResult(config, "ok", latency_p95_ms=18.0 + config.batch_size + wiggle,
                             device_executed="cpu", threads_intra=config.threads,
                             threads_inter=1)


def test_run_probe_resumes_and_labels_cold_warm(tmp_path: Path) -> None:
    sel = _selection(3)
    log = tmp_path / "repeats.jsonl"
    settings = ProfileSettings(warmup=1, passes=5)
    first = FakeProfiler(fail_after=7)
    with pytest.raises(KeyboardInterrupt):
        probe.run_probe(sel, settings, repeats=4, log_path=log, profile_fn=first, cap_ms=20.0,
                        progress=False)
    _, partial = probe.read_probe_log(log)
    assert len(partial) == 7
    with log.open("a") as f:  # a line torn by a hard kill is dropped and re-measured
        f.write('{"config_key": "torn')
    second = FakeProfiler()
    records = probe.run_probe(sel, settings, repeats=4, log_path=log, profile_fn=second,
                              cap_ms=20.0, progress=False)
    assert len(second.calls) == 12 - 7 and len(records) == 12
    assert {(r["config_key"], r["repeat"]) for r in records} == {
        (s.candidate.config.key(), k) for s in sel for k in range(4)}
    for prev, rec in itertools.pairwise(records):
        expected = "warm" if rec["previous_config"] == rec["config_key"] else "cold"
        assert rec["start"] == expected
        if rec is not records[7]:  # the first record after the resume has no predecessor
            assert rec["previous_config"] == prev["config_key"]
    assert records[7]["previous_config"] is None
    crashes = [r for r in records if r["result"]["status"] == "crash"]
    assert len(crashes) == 2 and "boom" in crashes[0]["result"]["crash_message"]
    again = probe.candidates_from_probe_log(log)
    assert sum(c.n_observations for c in again) == 12 - len(crashes)
    for c in again:
        assert 16.5 + c.config.batch_size <= c.p95_ms <= 19.5 + c.config.batch_size
    with pytest.raises(probe.ProbeLogError, match="cap_ms"):
        probe.run_probe(sel, settings, repeats=4, log_path=log, profile_fn=second, cap_ms=25.0,
                        progress=False)


def _record(key_bs: int, repeat: int, p95: float | None, start: str = "cold",
            device: str = "cpu") -> dict[str, Any]:
    cfg = _cfg(key_bs)
    res = ProfileResult(cfg, "ok" if p95 is not None else "crash", latency_p95_ms=p95,
                        crash_kind=None if p95 is not None else "oom", device_executed=device)
    return {"config_key": cfg.key(), "zone": "gray", "repeat": repeat, "start": start,
            "result": res.to_dict()}


def test_summary_on_hand_made_records(tmp_path: Path) -> None:
    p95s = [19.0, 21.0, 19.5, 20.5, 18.0, 22.0, 19.9, 20.1]  # 4 of 8 <= 20
    recs = [_record(1, i, p, "cold" if i % 2 == 0 else "warm") for i, p in enumerate(p95s)]
    recs += [_record(2, i, 10.0) for i in range(4)] + [_record(2, 4, None)]
    summaries = probe.summarise_probe(recs, cap_ms=20.0)
    by_bs = {s.config_key: s for s in summaries}
    s1, s2 = by_bs[_cfg(1).key()], by_bs[_cfg(2).key()]
    assert (s1.n_feasible, s1.n_repeats, s1.phi, s1.flip_rate) == (4, 8, 0.5, 0.5)
    assert s1.p95_mean_ms == pytest.approx(20.0)
    assert s1.p95_sd_ms == pytest.approx(math.sqrt(sum((p - 20) ** 2 for p in p95s) / 7))
    assert s1.cold_p95_mean_ms == pytest.approx((19 + 19.5 + 18 + 19.9) / 4)
    assert s1.phi_interval == pytest.approx(probe.wilson_interval(4, 8))
    assert (s2.n_feasible, s2.n_repeats, s2.n_ok, s2.crash_kinds) == (4, 5, 4, {"oom": 1})
    assert s2.flip_rate == pytest.approx(0.2)
    assert summaries[0].config_key == _cfg(2).key()  # ordered by mean p95
    pooled = probe.pooled(summaries)
    assert pooled["minority_repeats"] == 4 + 1 and pooled["n_repeats"] == 13
    p1 = probe.plot_p95(summaries, 20.0, tmp_path / "a.png")
    p2 = probe.plot_flip(summaries, tmp_path / "b.png")
    assert p1.stat().st_size > 1000 and p2.stat().st_size > 1000


# -- CLI -----------------------------------------------------------------------------
def test_cli_probe_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from deploybench.commands import probe as command

    fake = FakeProfiler()
    monkeypatch.setattr(command, "_load_profiler", lambda spec: fake)
    configs = tmp_path / "c.json"
    configs.write_text(json.dumps([{"config": c.config.to_dict(), "latency_p95_ms": c.p95_ms}
                                   for c in _hand_made()]))
    out = tmp_path / "out"
    argv = ["probe", "--configs", str(configs), "--cap-ms", "20", "--repeats", "4",
            "--zone-sizes", "gray=2,near_feasible=1,near_infeasible=0,deep_feasible=0,"
            "deep_infeasible=0", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["configs"]) == 3 and summary["cap_ms"] == 20.0
    assert (out / "p95_per_config.png").exists() and (out / "flip_vs_distance.png").exists()
    assert len(fake.calls) == 12
    assert main(argv) == 0 and len(fake.calls) == 12, "a finished probe re-measures nothing"
    assert "pooled flip rate" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["probe", "--from-probe", str(out / "repeats.jsonl"), "--cap-ms", "21",
                 "--select-only", "--out", str(again)]) == 0
    assert len(json.loads((again / "selection.json").read_text())) >= 1
    assert len(fake.calls) == 12, "--select-only measures nothing"


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--configs", "/nonexistent.json", "--cap-ms", "20"], "not found"),
     (["--configs", "/nonexistent.json", "--cap-ms", "-1"], "cap-ms"),
     (["--study", "s", "--cap-ms", "20"], "--storage"),
     (["--configs", "/nonexistent.json", "--cap-ms", "20", "--zone-sizes", "grey=1"], "zone")],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   extra: list[str], message: str) -> None:
    assert main(["probe", *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deploybench: error:") and message in err and "\n" not in err


def test_suggest_cap_and_cli_scout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deploybench.commands import probe as command
    from deploybench.probe._scout import suggest_cap

    cands = [Candidate(_cfg(bs), p, "s") for bs, p in
             [(1, 5.0), (2, 18.0), (3, 19.0), (4, 20.0), (5, 21.0), (6, 60.0)]]
    cap = suggest_cap(cands)
    assert cap in (19.0, 20.0)  # 18..21 are all within 10 % of 19 or 20 ms
    zones = [probe.assign_zone(c.p95_ms / cap) for c in cands]
    assert zones.count("gray") == 4 and zones[0] == "deep_feasible"
    with pytest.raises(ValueError):
        suggest_cap([])

    fake = FakeProfiler()
    monkeypatch.setattr(command, "_load_profiler", lambda spec: fake)
    configs = tmp_path / "c.json"
    configs.write_text(json.dumps([_cfg(bs).to_dict() for bs in (1, 2, 3)]))
    out = tmp_path / "out"
    argv = ["probe", "--configs", str(configs), "--scout", "--cap-ms", "auto", "--repeats",
            "2", "--zone-sizes", "gray=3", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    scouted = [json.loads(x) for x in (out / "scout.jsonl").read_text().splitlines()]
    assert len(scouted) == 3 and [d["latency_p95_ms"] is None for d in scouted] == [
        False, False, True], "the third scout run raised: logged, then dropped"
    n_selected = len(json.loads((out / "selection.json").read_text()))
    assert n_selected == 2 and len(fake.calls) == 3 + 2 * n_selected
    assert main(argv) == 0 and len(fake.calls) == 3 + 2 * n_selected, "scout and probe resume"
    assert main(["probe", "--configs", str(configs), "--cap-ms", "auto", "--out",
                 str(out)]) == 2  # auto without --scout is a user error


def test_candidates_from_table(tmp_path: Path) -> None:
    tables = pytest.importorskip("deploybench.tables")
    from deploybench.tables._space import Grid

    grid = Grid(models=("mobilenet_v2",), backends=("onnxruntime",), precisions=("fp32",),
                batch_sizes=(1, 2, 4), threads=(1,))
    rows = []
    cases: list[tuple[int, list[float | None]]] = [
        (1, [10.0, 14.0, 12.0]), (2, [20.0, None, 22.0]), (4, [None])]
    for bs, p95s in cases:
        for rep, p95 in enumerate(p95s):
            res = (ProfileResult(_cfg(bs), "ok", latency_p95_ms=p95) if p95 is not None
                   else ProfileResult(_cfg(bs), "crash", crash_kind="oom"))
            rows.append((res, rep, None))
    path = tmp_path / "t.jsonl.gz"
    tables.save_table(tables.build_table(grid, rows, {}, {}), path)
    cands = probe.candidates_from_table(path)
    assert [(c.config.batch_size, c.p95_ms, c.n_observations) for c in cands] == [
        (1, 12.0, 3), (2, 21.0, 2)]  # medians of the ok repeats; bs4 never ran
