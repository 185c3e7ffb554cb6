"""core.bulk: driver-level multi-row inserts store exactly what the ORM stores, on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, insert, select

from yiwang.core import bulk
from yiwang.core.db import EncryptedText, UTCDateTime

META = MetaData()
THINGS = Table(
    "test_bulk_things",
    META,
    Column("id", Integer, primary_key=True),
    Column("key", String(20), unique=True),
    Column("at", UTCDateTime),
    Column("flag", Boolean),
    Column("secret", EncryptedText, nullable=True),
    Column("n", Integer),
)
AT = dt.datetime(2026, 11, 29, 3, 4, 5, 678901, tzinfo=dt.UTC)


@pytest.fixture
def conn(db):
    connection = db.connection()
    META.create_all(connection)  # inside the test's rolled-back transaction
    return connection


def _row(key, **kw):
    return {"key": key, "at": AT, "flag": True, "secret": "13800138000", "n": 1} | kw


def test_values_are_stored_as_the_orm_stores_them(conn):
    conn.execute(insert(THINGS), [_row("orm")])
    ids = bulk.insert_values(conn, THINGS, [_row("bulk")], returning=("id",))
    assert len(ids) == 1
    raw = {r[0]: r[1:] for r in conn.exec_driver_sql("SELECT key, at, flag FROM test_bulk_things")}
    assert raw["bulk"] == raw["orm"]  # same datetime text/timestamp and boolean representation
    back = {r.key: r for r in conn.execute(select(THINGS))}
    assert back["bulk"].at == AT and back["bulk"].flag is True and back["bulk"].secret == "13800138000"
    stored_secret = conn.exec_driver_sql("SELECT secret FROM test_bulk_things WHERE key = 'bulk'").scalar()
    assert stored_secret != "13800138000"  # encrypted by the column's own processor


def test_conflicts_are_skipped_and_not_returned(conn):
    bulk.insert_values(conn, THINGS, [_row("a")])
    returned = bulk.insert_values(
        conn, THINGS, [_row("a", n=2), _row("b")], returning=("id", "key"), conflict_do_nothing=("key",)
    )
    assert [k for _id, k in returned] == ["b"]
    assert conn.execute(select(THINGS.c.n).where(THINGS.c.key == "a")).scalar_one() == 1


def test_large_batches_are_split_into_statements_within_the_parameter_limit(conn, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_PARAMETERS", 12)  # two rows of five columns per statement
    rows = [_row(f"k{i}", n=i) for i in range(5)]
    prepared = bulk.prepare(conn.dialect, THINGS, rows, returning=("id",))
    assert len(prepared.chunks) == 3
    prepared.set_column("n", [10, 11, 12, 13, 14])  # patched across chunks, row by row
    assert len(bulk.run(conn, prepared)) == 5
    assert sorted(conn.execute(select(THINGS.c.key, THINGS.c.n)).all()) == [(f"k{i}", 10 + i) for i in range(5)]


def test_rows_must_share_their_columns(conn):
    with pytest.raises(ValueError, match="same columns"):
        bulk.insert_values(conn, THINGS, [_row("a"), {"key": "b"}])
