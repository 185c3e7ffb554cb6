"""The same lake on a PostgreSQL catalog and on an S3-compatible store (moto on a loopback port)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyarrow as pa
import pytest

from yiwang.core.lake import Lake, Target, WriteMode
from yiwang.core.lake.bench import population
from yiwang.core.lake.catalog import AtomicSqlCatalog

ZONES = ("raw.population", "clean.population", "share.population")


def three_zone_load(lake: Lake, rows: int, first_id: int = 0) -> dict[str, int | None]:
    targets = {
        "raw.population": "append",
        "clean.population": Target(WriteMode.UPSERT, key=("person_id",)),
        "share.population": "replace",
    }
    with lake.load(targets) as load:
        for batch in population(rows, batch_rows=1000, first_id=first_id):
            for zone in ZONES:
                load.write(zone, batch)
    return load.result.snapshots


def counts(lake: Lake) -> list[int]:
    return [lake.sql(f"SELECT count(*) AS n FROM {zone}").column("n")[0].as_py() for zone in ZONES]


def exercise(lake: Lake, monkeypatch) -> None:
    """Load, upsert, crash between zone commits, time travel: the behaviours that must hold everywhere."""
    first = three_zone_load(lake, 3000)
    assert counts(lake) == [3000, 3000, 3000]
    three_zone_load(lake, 1000, first_id=2500)  # 500 keys overlap
    assert counts(lake) == [4000, 3500, 1000]

    original = AtomicSqlCatalog.commit_table
    calls = []

    def crash_on_second(self, table, requirements, updates):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return original(self, table, requirements, updates)

    monkeypatch.setattr(AtomicSqlCatalog, "commit_table", crash_on_second)
    with pytest.raises(RuntimeError):
        three_zone_load(lake, 10, first_id=10_000)
    monkeypatch.undo()
    assert counts(lake) == [4000, 3500, 1000]

    old = lake.sql("SELECT count(*) AS n FROM share.population", snapshots=first)
    assert old.column("n")[0].as_py() == 3000
    assert lake.read("clean.population", snapshot_id=first["clean.population"]).num_rows == 3000


def test_postgresql_catalog(pg_url, tmp_path, monkeypatch):
    lake = Lake(pg_url, str(tmp_path / "lake"))
    try:
        exercise(lake, monkeypatch)
        other_process = Lake(pg_url, str(tmp_path / "lake"))  # a second web worker, say
        assert other_process.tables("share") == ["share.population"]
        other_process.close()
    finally:
        lake.close()


def test_s3_compatible_store(s3_bucket, tmp_path, monkeypatch):
    lake = Lake(f"sqlite:///{tmp_path}/catalog.db", "s3://lake/yiwang", s3=s3_bucket)
    try:
        exercise(lake, monkeypatch)
        files = [t.file.file_path for t in lake.table("raw.population").scan().plan_files()]
        assert files and all(f.startswith("s3://lake/yiwang/raw/population/data/") for f in files)
        assert lake.cleanup_orphans(older_than=timedelta(0), dry_run=True), "the crashed load left files in the bucket"
        lake.cleanup_orphans(older_than=timedelta(0))
        assert lake.cleanup_orphans(older_than=timedelta(0), dry_run=True) == []
        assert counts(lake) == [4000, 3500, 1000]
    finally:
        lake.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_loaders_never_lose_a_commit(backend, request, tmp_path):
    url = f"sqlite:///{tmp_path}/catalog.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    Lake(url, str(tmp_path / "lake")).write("raw.events", pa.table({"n": pa.array([0], pa.int64())}))
    errors: list[BaseException] = []

    def loader(worker: int) -> None:
        lake = Lake(url, str(tmp_path / "lake"))  # each worker has its own catalog connection pool
        try:
            for i in range(6):
                with lake.load({"raw.events": "append", "clean.events": "append"}) as load:
                    rows = pa.table({"n": pa.array([worker * 100 + i], pa.int64())})
                    load.write("raw.events", rows)
                    load.write("clean.events", rows)
        except BaseException as exc:
            errors.append(exc)
        finally:
            lake.close()

    threads = [threading.Thread(target=loader, args=(w,)) for w in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    lake = Lake(url, str(tmp_path / "lake"))
    assert lake.read("raw.events").num_rows == 13
    assert lake.read("clean.events").num_rows == 12
    lake.close()
