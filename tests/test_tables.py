"""Table format, replay objective, oracle and summaries (deploybench.tables)."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from scipy import stats

from deploybench._constraints import LEGACY_KEY
from deploybench.profiling._types import DeployConfig, ProfileResult
from deploybench.tables import (
    SCHEMA_VERSION,
    ConfigRecord,
    Grid,
    RepeatSummary,
    ReplayCrash,
    Table,
    TableFormatError,
    TableObjective,
    format_summary,
    load_table,
    replay_problem,
    save_table,
    summarize,
)

GRID = Grid(
    models=("resnet18", "mobilenet_v2"),
    backends=("onnxruntime", "torch_compile"),
    precisions=("fp32",),
    batch_sizes=(1, 4),
    threads=(1,),
)


def ok(repeat: int, p95: float, mem: float = 100.0, thr: float = 100.0) -> RepeatSummary:
    return RepeatSummary(repeat=repeat, status="ok", latency_p50_ms=p95 * 0.8,
                         latency_p95_ms=p95, latency_p99_ms=p95 * 1.1, throughput_ips=thr,
                         peak_memory_mb=mem)


def crash(repeat: int, kind: str = "oom") -> RepeatSummary:
    return RepeatSummary(repeat=repeat, status="crash", crash_kind=kind,
                         crash_message="boom happened")


def aborted(repeat: int, warm: float) -> RepeatSummary:
    return RepeatSummary(repeat=repeat, status="aborted", aborted_early=True,
                         abort_threshold_ms=500.0, warmup_latency_ms=warm, peak_memory_mb=90.0)


def cfg(model: str = "resnet18", backend: str = "onnxruntime", bs: int = 1) -> DeployConfig:
    return DeployConfig(model, backend, "fp32", bs, None if backend == "torch_compile" else 1)


def hand_table() -> Table:
    """resnet18/ort/bs1: always feasible (acc .70); mobilenet/ort/bs1: feasible 2 of 3
    (acc .72); mobilenet/ort/bs4: feasible 1 of 3 (acc .72, better throughput);
    resnet18/ort/bs4: crashes twice; resnet18/compile/bs1: aborted."""
    recs = [
        ConfigRecord(cfg(), [ok(0, 10), ok(1, 12), ok(2, 11)], 0.70, "model_card"),
        ConfigRecord(cfg("mobilenet_v2"), [ok(0, 15, thr=300), ok(1, 25, thr=200),
                                           ok(2, 19, thr=250)], 0.72, "model_card"),
        ConfigRecord(cfg("mobilenet_v2", bs=4), [ok(0, 30, thr=900), ok(1, 18, thr=1000),
                                                 ok(2, 40, thr=800)], 0.72, "model_card"),
        ConfigRecord(cfg(bs=4), [crash(0), ok(1, 5), crash(2, "segfault")], 0.70, "model_card"),
        ConfigRecord(cfg(backend="torch_compile"), [aborted(0, 700.0)], 0.70, "model_card"),
    ]
    return Table(GRID, {r.config.key(): r for r in recs}, {"passes": 50}, {"note": "hand"})


def params(c: DeployConfig) -> dict[str, object]:
    p: dict[str, object] = {"model": c.model, "backend": c.backend, "precision": c.precision,
                            "batch_size": c.batch_size}
    if c.threads is not None:
        p["threads"] = c.threads
    return p


def enqueue(study: optuna.Study, c: DeployConfig) -> None:
    study.enqueue_trial(params(c))


# ----------------------------------------------------------------------------- format


def test_roundtrip(tmp_path: Path) -> None:
    table = hand_table()
    path = save_table(table, tmp_path / "t.jsonl.gz")
    back = load_table(path)
    assert back.grid == GRID
    assert set(back.records) == set(table.records)
    for key, rec in table.records.items():
        assert back.records[key].to_dict() == rec.to_dict()
    with gzip.open(path, "rt") as f:
        header = json.loads(f.readline())
    assert header["schema_version"] == SCHEMA_VERSION
    assert header["format"] == "deploybench-table"


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not gzip at all", "not a gzip"),
        (gzip.compress(b"{broken json\n"), "header is not JSON"),
        (gzip.compress(b'{"format": "something-else", "schema_version": 1}\n'), "not a"),
        (gzip.compress(b'{"format": "deploybench-table", "schema_version": 99}\n'),
         "schema_version 99"),
        (gzip.compress(b""), "empty"),
    ],
)
def test_corrupt_or_foreign_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(TableFormatError, match=match) as info:
        load_table(path)
    assert "\n" not in str(info.value)


def test_corrupt_record_line(tmp_path: Path) -> None:
    path = save_table(hand_table(), tmp_path / "t.jsonl.gz")
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()
    lines[2] = '{"config": {"model": "x"}}'
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(TableFormatError, match="line 3"):
        load_table(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TableFormatError, match="not found"):
        load_table(tmp_path / "nope.jsonl.gz")


def test_repeat_summary_from_result_truncates_message() -> None:
    res = ProfileResult(cfg(), "crash", crash_kind="error", crash_message="x" * 2000)
    rep = RepeatSummary.from_result(res, 3)
    assert rep.repeat == 3 and rep.crash_kind == "error"
    assert rep.crash_message is not None and len(rep.crash_message) < 600


# ----------------------------------------------------------------------------- replay


def run_study(obj: TableObjective, configs: list[DeployConfig]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for c in configs:
        enqueue(study, c)
    study.optimize(obj, n_trials=len(configs), catch=(ReplayCrash,))
    return study


def test_replay_reports_constraints_and_value() -> None:
    obj = TableObjective(hand_table(), "edge_tight", seed=0)
    study = run_study(obj, [cfg()])
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.COMPLETE
    assert t.value == pytest.approx(0.70)
    drawn = t.user_attrs["replay_repeat"]
    p95 = {0: 10, 1: 12, 2: 11}[drawn]
    assert t.constraints["latency_p95_ms"] == pytest.approx(p95 / 20 - 1)
    assert t.constraints["memory_peak_mb"] == pytest.approx(100 / 512 - 1)
    assert t.user_attrs["feasible"] is True
    assert t.system_attrs[LEGACY_KEY] == pytest.approx([p95 / 20 - 1, 100 / 512 - 1])
    assert obj.direction == "maximize"
    assert obj.constraint_keys == ("latency_p95_ms", "memory_peak_mb")


def test_replay_throughput_scenario_value() -> None:
    obj = TableObjective(hand_table(), "server_throughput", seed=1)
    study = run_study(obj, [cfg("mobilenet_v2")])
    t = study.trials[0]
    assert t.value == {0: 300, 1: 200, 2: 250}[t.user_attrs["replay_repeat"]]


def test_recorded_crash_raises_with_kind() -> None:
    obj = TableObjective(hand_table(), "edge_tight", seed=0)
    study = run_study(obj, [cfg(bs=4)] * 30)
    kinds = {t.user_attrs.get("crash_kind") for t in study.trials}
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert {"oom", "segfault"} <= kinds
    assert 0 < len(failed) < 30
    # Replay directly a trial number that draws repeat 0 (the oom one).
    rec = obj.table.get(cfg(bs=4))
    assert rec is not None
    n = next(i for i in range(100) if obj.draw_repeat(rec, i).repeat == 0)
    with pytest.raises(ReplayCrash, match="oom: boom happened") as info:
        obj(optuna.trial.FixedTrial(params(cfg(bs=4)), number=n))
    assert info.value.kind == "oom"


def test_fixed_trial_dry_run_returns_the_recorded_value() -> None:
    """A ``FixedTrial`` (no storage) can evaluate a recorded configuration: the named
    constraints are set on it and the legacy list, which needs a storage, is skipped."""
    obj = TableObjective(hand_table(), "edge_tight")
    trial = optuna.trial.FixedTrial(params(cfg()), number=0)
    assert obj(trial) == pytest.approx(0.70)
    assert all(v <= 0 for v in trial.constraints.values())


def test_not_recorded_raises() -> None:
    obj = TableObjective(hand_table(), "edge_tight")
    with pytest.raises(ReplayCrash, match="not_recorded") as info:
        obj(optuna.trial.FixedTrial(params(cfg("mobilenet_v2", "torch_compile", 4)), number=0))
    assert info.value.kind == "not_recorded"


def test_aborted_repeat_is_complete_and_infeasible() -> None:
    obj = TableObjective(hand_table(), "server_throughput")
    study = run_study(obj, [cfg(backend="torch_compile")])
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.COMPLETE
    assert t.user_attrs["aborted_early"] is True
    assert t.user_attrs["feasible"] is False
    assert t.constraints["latency_p99_ms"] == pytest.approx(700 / 100 - 1)
    assert t.value == pytest.approx(1000 * 1 / 700)


def test_replay_determinism_same_seed_and_differs_across_seeds() -> None:
    configs = [cfg("mobilenet_v2"), cfg("mobilenet_v2", bs=4), cfg(bs=4)] * 10

    def draws(seed: int) -> list[object]:
        study = run_study(TableObjective(hand_table(), "edge_tight", seed=seed), configs)
        return [t.user_attrs.get("replay_repeat") for t in study.trials]

    a, b, c = draws(7), draws(7), draws(8)
    assert a == b
    assert a != c


def test_repeat_frequencies_are_uniform() -> None:
    obj = TableObjective(hand_table(), "edge_tight", seed=3)
    rec = obj.table.get(cfg("mobilenet_v2"))
    assert rec is not None
    n = 3000
    counts = np.bincount([obj.draw_repeat(rec, i).repeat for i in range(n)], minlength=3)
    assert counts.sum() == n
    assert stats.chisquare(counts).pvalue > 1e-3


def test_threads_only_where_recorded() -> None:
    obj = TableObjective(hand_table(), "edge_tight")
    study = run_study(obj, [cfg(backend="torch_compile"), cfg()])
    assert "threads" not in study.trials[0].params
    assert study.trials[1].params["threads"] == 1
    # A free (non-enqueued) run also respects it.
    free = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    free.optimize(obj, n_trials=40, catch=(ReplayCrash,))
    for t in free.trials:
        assert ("threads" in t.params) == (t.params["backend"] != "torch_compile")


# ----------------------------------------------------------------------------- oracle


def test_feasibility_probability_and_truth() -> None:
    obj = TableObjective(hand_table(), "edge_tight")
    assert obj.feasibility_probability(params(cfg())) == 1.0
    assert obj.feasibility_probability(params(cfg("mobilenet_v2"))) == pytest.approx(2 / 3)
    assert obj.feasibility_probability(params(cfg("mobilenet_v2", bs=4))) == pytest.approx(1 / 3)
    assert obj.feasibility_probability(params(cfg(bs=4))) == pytest.approx(1 / 3)
    assert obj.feasibility_probability(params(cfg(backend="torch_compile"))) == 0.0
    assert obj.feasibility_probability(params(cfg("mobilenet_v2", "torch_compile"))) is None
    assert obj.truth(params(cfg("mobilenet_v2"))) == pytest.approx(0.72)
    assert obj.truth(params(cfg(bs=4))) is None  # 2 of 3 repeats crash
    thr = TableObjective(hand_table(), "server_throughput")
    assert thr.truth(params(cfg("mobilenet_v2", bs=4))) == pytest.approx(900)


def test_oracle_on_hand_table() -> None:
    # edge_tight: mobilenet bs1 is feasible in 2/3 >= 0.5 -> 0.72.
    assert TableObjective(hand_table(), "edge_tight").oracle() == pytest.approx(0.72)
    # With a stricter threshold only resnet18 bs1 (always feasible) qualifies.
    strict = TableObjective(hand_table(), "edge_tight", feasible_fraction=0.9)
    assert strict.oracle() == pytest.approx(0.70)
    # server_throughput (p99 <= 100): mobilenet bs4 median throughput 900 is best.
    assert TableObjective(hand_table(), "server_throughput").oracle() == pytest.approx(900)


def test_subgrid_restricts_space_records_and_oracle() -> None:
    sub = TableObjective(hand_table(), "server_throughput", subgrid={"batch_sizes": [1]})
    assert sub.table.grid.batch_sizes == (1,)
    assert all(r.config.batch_size == 1 for r in sub.table.records.values())
    assert sub.oracle() == pytest.approx(250)  # mobilenet bs4 (900) is outside the sub-grid
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(sub, n_trials=20, catch=(Exception,))
    assert {t.params["batch_size"] for t in study.trials} == {1}
    # configuration field names work as axis names too; order of the grid is kept
    assert GRID.restrict({"model": ["mobilenet_v2", "resnet18"]}).models == GRID.models
    with pytest.raises(ValueError, match="has no value"):
        GRID.restrict({"batch_sizes": [2]})
    with pytest.raises(ValueError, match="cannot restrict grid axis 'colour'"):
        GRID.restrict({"colour": ["red"]})
    with pytest.raises(ValueError, match="cannot restrict"):
        GRID.restrict({"models": "resnet18"})  # a string is not a list of values
    prob = replay_problem("replay:cpu-2core:cpu_edge", subgrid={"models": ["resnet18"]},
                          feasible_fraction=0.9)
    assert prob.table.grid.models == ("resnet18",) and prob.feasible_fraction == 0.9


def test_oracle_without_feasible_config_raises() -> None:
    table = hand_table()
    table.records = {k: v for k, v in table.records.items() if "torch_compile" in k}
    with pytest.raises(ValueError, match="no configuration"):
        TableObjective(table, "edge_tight").oracle()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        TableObjective(hand_table(), "nope")
    with pytest.raises(ValueError, match="seed"):
        TableObjective(hand_table(), "edge_tight", seed=-1)
    with pytest.raises(ValueError, match="feasible_fraction"):
        TableObjective(hand_table(), "edge_tight", feasible_fraction=0.0)
    with pytest.raises(ValueError, match="no table"):
        TableObjective("/nonexistent/table.jsonl.gz", "edge_tight")


def test_replay_problem_parses_path_with_colon(tmp_path: Path) -> None:
    d = tmp_path / "a:b"
    d.mkdir()
    path = save_table(hand_table(), d / "t.jsonl.gz")
    prob = replay_problem(f"replay:{path}:server_throughput", seed=2)
    assert prob.scenario.name == "server_throughput"
    assert prob.seed == 2
    assert prob.name == f"replay:{path}:server_throughput"
    with pytest.raises(ValueError, match="replay:<table>:<scenario>"):
        replay_problem("replay:onlyname")


def test_summary_fractions() -> None:
    s = summarize(hand_table(), ["edge_tight"])
    assert s["configs_recorded"] == 5
    assert s["configs_in_grid"] == len(GRID.configs()) == 8
    assert s["repeats_recorded"] == 13
    sc = s["scenarios"][0]
    assert sc["crashed"] == pytest.approx(2 / 13)
    assert sc["aborted"] == pytest.approx(1 / 13)
    # feasible repeats: 3 (resnet bs1) + 2 (mobilenet bs1) + 1 (mobilenet bs4) + 1 (resnet bs4)
    assert sc["feasible"] == pytest.approx(7 / 13)
    assert sc["infeasible"] == pytest.approx(4 / 13)
    assert sc["configs_feasible"] == 2
    assert sc["oracle"] == pytest.approx(0.72)
    assert s["configs_by_repeats"] == {"1": 1, "3": 4}
    assert s["repeats_by_status"] == {"aborted": 1, "crash": 2, "ok": 10}
    assert s["crashes_by_backend"] == {"onnxruntime": {"oom": 1, "segfault": 1}}
    assert s["repeats_by_other_load"] == {"unknown": 13}
    text = format_summary(s)
    assert "configurations by repeats: 1 with 1, 4 with 3" in text
    assert "repeats by status: 1 aborted, 2 crash, 10 ok" in text
    assert "crashes by backend: onnxruntime: 1 oom, 1 segfault" in text
    assert "repeats by other load (cores): 13 unknown" in text


def test_summary_counts_repeats_by_other_load() -> None:
    reps = [dataclasses.replace(ok(0, 10), other_load_cores=0.2),
            dataclasses.replace(ok(1, 10), other_load_cores=0.5),
            dataclasses.replace(ok(2, 10), other_load_cores=0.9)]
    table = Table(GRID, {cfg().key(): ConfigRecord(cfg(), reps, 0.7, "model_card")}, {}, {})
    assert summarize(table, [])["repeats_by_other_load"] == {"<=0.5": 2, ">0.5": 1}


def test_grid_threads_only_for_threaded_backends() -> None:
    configs = Grid().configs()
    # 6 models x 3 precisions x 6 batch sizes x (2 + 2 threads + 1 compile)
    assert len(configs) == 6 * 3 * 6 * 5
    assert all((c.threads is None) == (c.backend == "torch_compile") for c in configs)
    assert len({c.key() for c in configs}) == len(configs)


def test_replay_problem_through_a_problem_registry(tmp_path: Path) -> None:
    from deploybench.problems._registry import ProblemRegistry

    path = save_table(hand_table(), tmp_path / "t.jsonl.gz")
    registry = ProblemRegistry()
    registry.register("replay:", replay_problem)
    prob = registry.get(f"replay:{path}:edge_tight", seed=5)
    assert isinstance(prob, TableObjective)
    assert prob.seed == 5 and prob.oracle() == pytest.approx(0.72)


def test_shipped_cpu_table_loads_and_replays() -> None:
    from deploybench.tables import shipped_tables

    tables = shipped_tables()
    if "cpu-2core" not in tables:
        pytest.skip("deploybench/data/cpu-2core.jsonl.gz has not been compacted yet")
    table = load_table(tables["cpu-2core"])
    assert "shared 2-core machine" in table.provenance["note"]
    assert table.settings["passes"] == 50
    assert len(table.grid.configs()) == 540
    assert table.records and all(rec.repeats for rec in table.records.values())
    obj = TableObjective("cpu-2core", "cpu_edge", seed=0)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(obj, n_trials=60, catch=(ReplayCrash,))
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
               for t in study.trials)
    # A configuration that is in the table replays without "not_recorded".
    key = next(iter(table.records))
    replayed = run_study(obj, [table.records[key].config] * 3)
    assert all(t.user_attrs.get("crash_kind") != "not_recorded" for t in replayed.trials)
    assert all("replay_repeat" in t.user_attrs for t in replayed.trials)
