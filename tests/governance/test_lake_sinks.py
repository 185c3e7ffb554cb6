"""Governed batches land in the lake as one atomic load across raw, clean, share and quarantine."""

import pytest

from yiwang.core.lake import Lake
from yiwang.governance.engine import run, synth
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
    with pytest.raises(Exception):
        run(str(broken), synth.population_rules(), second.sinks(), keys=KEYS)
    assert second.result is None
    assert lake.current_snapshots([f"{z}.population" for z in ("raw", "clean", "share")]) == before
