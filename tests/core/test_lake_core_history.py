"""History and time travel: snapshot lists, reads as of a snapshot, a time or a date."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from yiwang.core.lake import QueryError


def names(ids: list[int], tag: str) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": [f"{tag}{i}" for i in ids]})


def tick() -> datetime:
    """A moment strictly between two commits (snapshot times have millisecond resolution)."""
    time.sleep(0.01)
    moment = datetime.now()
    time.sleep(0.01)
    return moment


@pytest.fixture
def three_versions(lake):
    """raw.people written three times; returns the load results and a moment after each."""
    results, moments = [], []
    for ids, tag, mode in (([1, 2], "v1_", "append"), ([3], "v2_", "append"), ([9], "v3_", "replace")):
        results.append(lake.write("raw.people", names(ids, tag), mode=mode))
        moments.append(tick())
    return results, moments


def test_history_lists_every_snapshot_with_counts(lake, three_versions):
    results, _ = three_versions
    history = lake.history("raw.people")
    assert [h.snapshot_id for h in history] == [r.snapshots["raw.people"] for r in results]
    assert [h.operation for h in history] == ["append", "append", "overwrite"]
    assert [(h.added_rows, h.deleted_rows, h.total_rows) for h in history] == [(2, 0, 2), (1, 0, 3), (1, 3, 1)]
    assert [(h.added_files, h.deleted_files) for h in history] == [(1, 0), (1, 0), (1, 2)]
    assert [h.is_current for h in history] == [False, False, True]
    assert [h.load_id for h in history] == [r.load_id for r in results]
    assert history[1].parent_id == history[0].snapshot_id
    assert history[0].committed_at <= history[1].committed_at <= history[2].committed_at


def test_read_as_of_snapshot_id(lake, three_versions):
    results, _ = three_versions
    first = lake.read("raw.people", snapshot_id=results[0].snapshots["raw.people"])
    assert sorted(first.column("name").to_pylist()) == ["v1_1", "v1_2"]
    with pytest.raises(LookupError):
        lake.read("raw.people", snapshot_id=12345)


def test_read_as_of_time(lake, three_versions):
    _, moments = three_versions
    assert sorted(lake.read("raw.people", as_of=moments[1]).column("id").to_pylist()) == [1, 2, 3]
    assert lake.read("raw.people", as_of=moments[2]).column("id").to_pylist() == [9]
    before_anything = moments[0] - timedelta(hours=1)
    empty = lake.read("raw.people", as_of=before_anything)
    assert empty.num_rows == 0 and empty.schema.names == ["id", "name"]
    assert lake.snapshot_id("raw.people", as_of=before_anything) is None
    assert lake.snapshot_id("raw.people", as_of=moments[0]) == lake.history("raw.people")[0].snapshot_id


def test_read_as_of_date_means_end_of_that_day(lake, three_versions):
    assert lake.read("raw.people", as_of=date.today()).column("id").to_pylist() == [9]
    assert lake.read("raw.people", as_of=date.today() - timedelta(days=1)).num_rows == 0


def test_sql_time_travel_by_time_and_by_pinned_snapshots(lake, three_versions):
    results, moments = three_versions
    query = "SELECT count(*) AS n FROM raw.people"
    assert lake.sql(query, as_of=moments[1]).column("n").to_pylist() == [3]
    assert lake.sql(query, snapshots=results[0].snapshots).column("n").to_pylist() == [2]
    assert lake.sql(query).column("n").to_pylist() == [1]
    with pytest.raises(QueryError, match="no snapshot"):
        lake.sql(query, snapshots={"raw.people": 42})


def test_time_travel_reads_the_schema_of_the_time(lake):
    lake.write("raw.people", names([1], "a"))
    moment = tick()
    lake.write("raw.people", pa.table({"id": [2], "name": ["b"], "town": ["锦溪镇"]}))
    assert lake.read("raw.people", as_of=moment).schema.names == ["id", "name"]
    assert lake.sql("SELECT * FROM raw.people", as_of=moment).schema.names == ["id", "name"]
    assert lake.sql("SELECT town FROM raw.people WHERE id = 1").column("town").to_pylist() == [None]


def test_expiring_snapshots_ends_their_time_travel_and_frees_their_files(lake, three_versions):
    results, _ = three_versions
    expired = lake.expire_snapshots("raw.people", older_than=datetime.now() + timedelta(seconds=1), retain_last=1)
    assert sorted(expired) == sorted(r.snapshots["raw.people"] for r in results[:2])
    assert [h.is_current for h in lake.history("raw.people")] == [True]
    removed = lake.cleanup_orphans(older_than=timedelta(0))
    assert sum(p.endswith(".parquet") for p in removed) == 2, "the two files only old snapshots used"
    assert lake.read("raw.people").column("id").to_pylist() == [9]
    with pytest.raises(LookupError):
        lake.read("raw.people", snapshot_id=results[0].snapshots["raw.people"])
