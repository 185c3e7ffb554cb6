"""Cross-zone atomicity: a load's tables change together or not at all, even if the job dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from yiwang.core.lake import Lake, Target, WriteMode
from yiwang.core.lake.catalog import AtomicSqlCatalog

ZONES = ("raw.people", "clean.people", "share.people")
SRC = str(Path(__file__).resolve().parents[2] / "src")


def batch(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": pa.array(ids, pa.int64()), "name": [f"n{i}" for i in ids]})


def load_all(lake: Lake, start: int, count: int) -> dict[str, int | None]:
    with lake.load(dict.fromkeys(ZONES, "append")) as load:
        for zone in ZONES:
            load.write(zone, batch(start, count))
    return load.result.snapshots


def counts(lake: Lake) -> tuple[int, ...]:
    row = lake.sql(
        "SELECT (SELECT count(*) FROM raw.people) AS r, (SELECT count(*) FROM clean.people) AS c, "
        "(SELECT count(*) FROM share.people) AS s"
    ).to_pylist()[0]
    return row["r"], row["c"], row["s"]


def test_load_commits_every_zone_with_its_own_mode(lake):
    lake.write("clean.people", batch(0, 5))
    targets = {
        "raw.people": "append",
        "clean.people": Target(WriteMode.UPSERT, key=("id",)),
        "share.people": "replace",
        "quarantine.people": "append",
    }
    with lake.load(targets, load_id="load-42") as load:
        load.write("raw.people", batch(3, 4))
        load.write("clean.people", batch(3, 4))
        load.write("share.people", batch(3, 4))
        load.write("quarantine.people", pa.table({"id": [99], "name": [None], "reason": ["name missing"]}))
    result = load.result
    assert result.load_id == "load-42"
    assert result.rows_written == {"raw.people": 4, "clean.people": 4, "share.people": 4, "quarantine.people": 1}
    assert result.rows_replaced == {"clean.people": 2}
    assert lake.read("clean.people").num_rows == 7
    for name, snapshot_id in result.snapshots.items():
        last = lake.history(name)[-1]
        assert (last.snapshot_id, last.load_id) == (snapshot_id, "load-42")


def test_writing_a_table_outside_the_load_is_refused(lake):
    with lake.load({"raw.people": "append"}) as load:
        with pytest.raises(KeyError, match="not a target"):
            load.write("clean.people", batch(0, 1))
        load.write("raw.people", batch(0, 1))


def test_crash_between_zone_commits_leaves_every_zone_as_it_was(lake, monkeypatch):
    load_all(lake, 0, 10)
    before = {z: lake.table(z).metadata_location for z in ZONES}
    original = AtomicSqlCatalog.commit_table
    calls = []

    def crash_on_second_table(self, table, requirements, updates):
        calls.append(table.name())
        if len(calls) == 2:
            raise RuntimeError("simulated crash between zone commits")
        return original(self, table, requirements, updates)

    monkeypatch.setattr(AtomicSqlCatalog, "commit_table", crash_on_second_table)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_all(lake, 10, 5)
    monkeypatch.undo()

    assert len(calls) == 2, "the first zone's commit had gone through inside the transaction"
    assert {z: lake.table(z).metadata_location for z in ZONES} == before
    assert counts(lake) == (10, 10, 10)
    load_all(lake, 10, 5)  # the catalog is not left locked
    assert counts(lake) == (15, 15, 15)


def test_crash_in_a_first_load_leaves_new_tables_empty(lake, monkeypatch):
    original = AtomicSqlCatalog.commit_table
    calls = []

    def crash_on_second_data_commit(self, table, requirements, updates):
        if self.table_exists(table.name()) and any(u.action == "add-snapshot" for u in updates):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("simulated crash")
        return original(self, table, requirements, updates)

    monkeypatch.setattr(AtomicSqlCatalog, "commit_table", crash_on_second_data_commit)
    with pytest.raises(RuntimeError):
        load_all(lake, 0, 3)
    assert len(calls) == 2
    assert [lake.table(z).current_snapshot() for z in ZONES] == [None, None, None]
    assert counts(lake) == (0, 0, 0)


KILLED_JOB = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pyarrow as pa
    from yiwang.core.lake import Lake
    from yiwang.core.lake.catalog import AtomicSqlCatalog

    db, location, marker = sys.argv[1:4]
    original = AtomicSqlCatalog.commit_table
    done = []

    def commit_then_stall(self, table, requirements, updates):
        response = original(self, table, requirements, updates)
        done.append(table.name())
        if len(done) == 1:
            Path(marker).write_text("first zone committed")
            time.sleep(120)  # killed here, between zone commits
        return response

    AtomicSqlCatalog.commit_table = commit_then_stall
    lake = Lake(db, location)
    zones = ("raw.people", "clean.people", "share.people")
    with lake.load({z: "append" for z in zones}) as load:
        for zone in zones:
            load.write(zone, pa.table({"id": pa.array([100, 101], pa.int64()), "name": ["x", "y"]}))
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_job_killed_between_zone_commits_changes_nothing(backend, request, tmp_path):
    db = f"sqlite:///{tmp_path}/catalog.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    location = str(tmp_path / "lake")
    lake = Lake(db, location)
    load_all(lake, 0, 10)
    before = {z: lake.table(z).metadata_location for z in ZONES}
    marker = tmp_path / "marker"
    job = subprocess.Popen(
        [sys.executable, "-c", KILLED_JOB, db, location, str(marker)],
        env={**os.environ, "PYTHONPATH": SRC},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 45
        while not marker.exists():
            if job.poll() is not None:
                pytest.fail(f"job ended early: {job.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("job never reached the first zone commit")
            time.sleep(0.05)
        os.kill(job.pid, signal.SIGKILL)
    finally:
        job.kill()
        job.wait()
    lake.close()
    lake = Lake(db, location)  # a new process-like view of the catalog
    assert {z: lake.table(z).metadata_location for z in ZONES} == before
    assert counts(lake) == (10, 10, 10)
    load_all(lake, 10, 1)
    assert counts(lake) == (11, 11, 11)


def test_readers_never_see_a_half_done_load(lake):
    load_all(lake, 0, 1)
    stop = threading.Event()
    seen: list[tuple[int, ...]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.append(counts(lake))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(12):
            load_all(lake, 1 + i * 3, 3)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert len(seen) >= 5, "the reader should have overlapped with the loads"
    assert all(r == c == s for r, c, s in seen), [x for x in seen if len(set(x)) > 1]
    assert len({x[0] for x in seen}) > 1, "the reader saw loads land while it ran"


def test_current_snapshots_pin_a_consistent_view(lake):
    first = load_all(lake, 0, 2)
    pinned = lake.current_snapshots(ZONES)
    assert pinned == first
    load_all(lake, 2, 3)
    old = lake.sql("SELECT count(*) AS n FROM raw.people JOIN share.people USING (id)", snapshots=pinned)
    assert old.column("n").to_pylist() == [2]
    assert counts(lake) == (5, 5, 5)
