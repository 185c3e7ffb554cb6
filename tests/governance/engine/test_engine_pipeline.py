"""End to end: synthetic file → run() → zones; the quarantine holds exactly the injected rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from stdnum.cn import ric

from yiwang.governance.bench.synth import COLUMNS, EXPECTED_RULE
from yiwang.governance.engine import CollectSink, Sinks, parquet_sinks, run
from yiwang.governance.engine.errors import SourceError

KEYS = {"population": b"0123456789abcdef"}
TODAY = dt.date(2025, 6, 1)  # same as conftest.TODAY (the population fixture)


def test_quarantine_is_exactly_the_injected_rows(population, rules, tmp_path):
    summary = run(population.path, rules, parquet_sinks(tmp_path), keys=KEYS, today=TODAY)
    assert summary.rows_read == population.rows == summary.rows_accepted + summary.rows_quarantined
    quarantine = pq.read_table(tmp_path / "quarantine.parquet").to_pylist()
    assert {r["_line"] for r in quarantine} == set(population.bad)
    for row in quarantine:
        assert EXPECTED_RULE[population.bad[row["_line"]]] in {f["rule"] for f in row["_failures"]}
    assert sum(summary.quarantine_by_first_rule.values()) == summary.rows_quarantined
    raw = pq.read_table(tmp_path / "raw.parquet")
    assert raw.num_rows == population.rows and raw.column_names == [*COLUMNS, "_line"]
    assert pq.read_table(tmp_path / "clean.parquet").num_rows == summary.rows_accepted
    assert set(summary.timings) >= {"read", "normalise", "validate", "mask", "write_raw", "write_share"}
    assert 0.9 < summary.quality["overall"] <= 1


def test_share_zone_is_masked(population, rules, tmp_path):
    run(population.path, rules, parquet_sinks(tmp_path), keys=KEYS, today=TODAY)
    share = pl.read_parquet(tmp_path / "share.parquet")
    clean = pl.read_parquet(tmp_path / "clean.parquet")
    assert share.height == clean.height
    assert share["公民身份号码"].str.contains(r"^\d{6}\*{8}[\dX]{4}$").all()
    assert share["联系电话"].str.contains(r"\*{4}").all()
    assert (share["姓名"].str.len_chars() == clean["姓名"].str.len_chars()).all()
    assert share["出生日期"].str.contains(r"^\d{4}$").all()
    assert share["现住址"].str.contains("(社区|村|委会)$").all()
    assert share["公民身份号码_假名"].str.len_chars().unique().to_list() == [32]
    assert share["公民身份号码_假名"].n_unique() == share.height  # IDs are unique, so are pseudonyms


def test_good_rows_have_valid_ids_and_consistent_fields(population, rules, tmp_path):
    run(population.path, rules, Sinks(clean=(sink := CollectSink())), keys=KEYS, today=TODAY)
    clean = pl.from_arrow(sink.table())
    ids = clean["公民身份号码"].to_list()
    assert all(ric.calc_check_digit(i) == i[17] for i in ids)
    births = clean["出生日期"].to_list()
    assert all(dt.date(int(i[6:10]), int(i[10:12]), int(i[12:14])) == b for i, b in zip(ids, births))
    assert all((int(i[16]) % 2 == 1) == (g == "男") for i, g in zip(ids, clean["性别"].to_list()))


def test_callable_sinks_and_abort_on_bad_source(tmp_path, rules):
    path = tmp_path / "bad.csv"
    good = "张三,11010519491231002X,女,1949-12-31,汉族,13800000000,地址,地址,320583100001\n"
    path.write_bytes((",".join(COLUMNS) + "\n" + good * 10 + "李四,1\n").encode("gb18030"))
    seen: list[pa.RecordBatch] = []
    parquet = parquet_sinks(tmp_path / "out")
    with pytest.raises(SourceError) as info:
        run(path, rules, Sinks(raw=seen.append, clean=parquet.clean), keys=KEYS, today=TODAY)
    assert (info.value.code, info.value.line) == ("truncated_file", 12)
    assert not (tmp_path / "out" / "clean.parquet").exists()  # aborted sinks leave nothing behind


def test_rules_from_a_plain_dict(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("名称,数量\n甲,1\n乙,x\n", encoding="utf-8")
    rules = {"resource": "r", "columns": [{"name": "名称", "required": True}, {"name": "数量", "dtype": "int"}]}
    sink = CollectSink()
    summary = run(path, rules, Sinks(quarantine=sink), today=TODAY)
    assert (summary.rows_accepted, summary.rows_quarantined) == (1, 1)
    assert sink.table().column("_rule").to_pylist() == ["type"] and sink.closed


def test_k_anonymity_of_the_share_zone(population, rules, tmp_path):
    summary = run(population.path, rules, parquet_sinks(tmp_path), keys=KEYS, today=TODAY)
    report = summary.k_anonymity
    share = pl.read_parquet(tmp_path / "share.parquet")
    classes = share.group_by(rules.quasi_identifiers).len()
    assert report["rows"] == share.height
    assert report["classes"] == classes.height and report["k"] == classes["len"].min()
    assert report["classes_below"] == classes.filter(pl.col("len") < rules.k_anonymity).height


def test_pipeline_keeps_freed_memory_for_the_next_batch_and_gives_it_back_at_the_end(tmp_path, monkeypatch):
    """Batches' memory is reused, not unmapped and faulted in again per batch; one trim at the end."""
    from yiwang.governance.bench.synth import population_rules, write_population_csv
    from yiwang.governance.engine import pipeline as pipeline_module

    calls = []
    monkeypatch.setattr(pipeline_module, "_MALLOPT", lambda option, value: calls.append(("mallopt", option, value)))
    monkeypatch.setattr(pipeline_module, "_TRIM", lambda pad: calls.append(("trim", pad)))
    manifest = write_population_csv(tmp_path / "pop.csv", 3000, seed=9)
    sinks = Sinks(raw=CollectSink(), clean=CollectSink(), share=CollectSink(), quarantine=CollectSink())
    summary = run(
        str(manifest.path),
        population_rules(),
        sinks,
        keys={"population": b"k" * 16},
        source_options={"chunk_bytes": 64 << 10},
    )
    assert summary.rows_read == 3000 and summary.batches > 1
    assert ("mallopt", pipeline_module._M_MMAP_THRESHOLD, pipeline_module._MMAP_THRESHOLD) in calls
    assert [c for c in calls if c[0] == "trim"] == [("trim", 0)]  # once, not once per batch
    assert calls.index(("trim", 0)) > max(i for i, c in enumerate(calls) if c[0] == "mallopt")
