"""Governed batches land in the lake as one atomic load across raw, clean, share and quarantine."""

import pytest
from lake_helpers import parquet_codecs

from yiwang.core.lake import Lake
from yiwang.governance.bench import synth
from yiwang.governance.engine import run
from yiwang.governance.lake_sinks import LakeLoad

KEYS = {"population": b"k" * 16}


@pytest.fixture
def lake(tmp_path):
    from helpers import new_database

    database = new_database(tmp_path)
    lk = Lake(database.url, str(tmp_path / "lake"))
    yield lk
    lk.close()
    database.drop()


def test_one_load_writes_all_zones(tmp_path, lake):
    manifest = synth.write_population_csv(tmp_path / "pop.csv", 3000, seed=3)
    load = LakeLoad(lake, "population")
    summary = run(str(manifest.path), synth.population_rules(), load.sinks(), keys=KEYS)
    assert load.result is not None
    counts = {z: lake.read(f"{z}.population").num_rows for z in ("raw", "clean", "share", "quarantine")}
    assert counts["raw"] == summary.rows_read == 3000
    assert counts["clean"] == counts["share"] == summary.rows_accepted
    assert counts["quarantine"] == summary.rows_quarantined == len(manifest.bad) > 0
    ids = lake.read("share.population", columns=["公民身份号码"]).column(0).to_pylist()
    assert all("********" in v for v in ids[:50])
    assert set(load.result.snapshots) == {f"{z}.population" for z in ("raw", "clean", "share", "quarantine")}


def test_failed_source_leaves_previous_snapshots(tmp_path, lake):
    good = synth.write_population_csv(tmp_path / "good.csv", 500, seed=1)
    first = LakeLoad(lake, "population")
    run(str(good.path), synth.population_rules(), first.sinks(), keys=KEYS)
    before = lake.current_snapshots([f"{z}.population" for z in ("raw", "clean", "share")])
    broken = tmp_path / "broken.csv"
    data = good.path.read_bytes()
    broken.write_bytes(data[: len(data) // 2] + b'"unterminated')  # truncated mid-file
    second = LakeLoad(lake, "population")
    with pytest.raises(Exception):  # noqa: B017 - whichever reader meets the cut first; the point is no commit
        run(str(broken), synth.population_rules(), second.sinks(), keys=KEYS)
    assert second.result is None
    assert lake.current_snapshots([f"{z}.population" for z in ("raw", "clean", "share")]) == before


def test_loads_write_big_zones_uncompressed_and_compaction_reencodes_them(tmp_path, lake):
    manifest = synth.write_population_csv(tmp_path / "pop.csv", 4000, seed=5)
    load = LakeLoad(lake, "population")
    run(str(manifest.path), synth.population_rules(), load.sinks(), keys=KEYS)
    loaded = load.result.snapshots["raw.population"]
    raw_codecs, raw_bytes = parquet_codecs(lake, "raw.population")
    assert raw_codecs == {"UNCOMPRESSED"}
    assert parquet_codecs(lake, "quarantine.population")[0] == {"ZSTD"}  # quarantine keeps the lake defaults
    before = lake.read("raw.population").sort_by("_line")

    result = lake.compact("raw.population")
    assert result is not None and result.snapshots["raw.population"] != loaded
    codecs, size = parquet_codecs(lake, "raw.population")
    assert codecs == {"ZSTD"} and size < raw_bytes / 2
    assert lake.read("raw.population").sort_by("_line").equals(before)  # same rows, same values
    assert lake.read("raw.population", snapshot_id=loaded).num_rows == 4000  # time travel to the load
    assert lake.sql("SELECT count(*) AS n FROM raw.population").column("n")[0].as_py() == 4000
    assert lake.compact("clean.population") is not None
    assert lake.read("clean.population").num_rows == lake.read("share.population").num_rows


def test_compaction_fails_rather_than_drop_rows_committed_meanwhile(tmp_path, lake):
    import pyarrow as pa

    from yiwang.core.lake import Target, WriteMode

    lake.write("raw.things", pa.table({"id": pa.array(range(10))}), mode="append")
    compaction = lake.load({"raw.things": Target(mode=WriteMode.REPLACE, schema=lake.schema("raw.things"))})
    base = compaction.base_snapshot_id("raw.things")
    compaction.write("raw.things", lake.read_batches("raw.things", snapshot_id=base))
    lake.write("raw.things", pa.table({"id": pa.array(range(10, 15))}), mode="append")  # a load commits meanwhile
    with pytest.raises(Exception):  # noqa: B017 - PyIceberg's or the lake's conflict; the point is no row lost
        compaction.commit()
    assert sorted(lake.read("raw.things").column("id").to_pylist()) == list(range(15))
    assert lake.compact("raw.things") is not None
    assert sorted(lake.read("raw.things").column("id").to_pylist()) == list(range(15))
    lake.write("raw.nothing", pa.table({"id": pa.array([], pa.int64())}), mode="append")
    assert lake.compact("raw.nothing") is None  # nothing to rewrite
