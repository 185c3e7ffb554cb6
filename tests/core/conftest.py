"""Fixtures for the core tests: an audit ledger of its own; for the lake tests: the suite's database as
catalog, PostgreSQL on demand, a local S3 endpoint.

The ``lake`` fixture follows the suite's backend: SQLite by default, PostgreSQL in the
pass run with ``YIWANG_TEST_DATABASE_URL`` (see scripts/test.sh), so every lake test
runs on both. Tests that must see PostgreSQL in any pass use ``pg_url``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from helpers import new_database, pg_base_url
from yiwang.core import audit
from yiwang.core.db import Base, make_engine, make_sessionmaker
from yiwang.core.lake import Lake, ParquetOptions, S3Options

PG_URL = pg_base_url() or os.environ.get("YIWANG_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def catalog_url(tmp_path) -> Iterator[str]:
    """A fresh database for the Iceberg catalog (SQLite file or private PostgreSQL schema)."""
    database = new_database(tmp_path)
    yield database.url
    database.drop()


@pytest.fixture
def lake(tmp_path, catalog_url) -> Iterator[Lake]:
    """A lake with its files in a temp folder."""
    lake = Lake(catalog_url, str(tmp_path / "lake"))
    yield lake
    lake.close()


@pytest.fixture
def small_files_lake(tmp_path, catalog_url) -> Iterator[Lake]:
    """A lake that rolls files after every row group (1000 rows), to exercise multi-file writes."""
    options = ParquetOptions(row_group_rows=1000, target_file_bytes=1024)
    lake = Lake(catalog_url, str(tmp_path / "lake"), parquet=options)
    yield lake
    lake.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a private PostgreSQL schema (dropped afterwards); skips if no server answers."""
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    schema = f"yw_lake_{os.urandom(6).hex()}"
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = (
        make_url(PG_URL).set(drivername="postgresql+psycopg").update_query_dict({"options": f"-csearch_path={schema}"})
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def s3_bucket() -> Iterator[S3Options]:
    """A real S3 HTTP endpoint on a loopback port (moto in server mode) with a bucket ``lake``."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    boto3 = pytest.importorskip("boto3")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = S3Options(endpoint=f"http://{host}:{port}", access_key="test-key", secret_key="test-secret")
        boto3.client(
            "s3",
            endpoint_url=options.endpoint,
            aws_access_key_id=options.access_key,
            aws_secret_access_key=options.secret_key,
            region_name=options.region,
        ).create_bucket(Bucket="lake")
        yield options
    finally:
        server.stop()


@pytest.fixture
def ledger(tmp_path) -> Iterator[tuple]:
    """(engine, sessionmaker, database): a committed database (SQLite file or PostgreSQL schema) holding
    only the ledger, as migrations leave it."""
    database = new_database(tmp_path)
    engine = make_engine(database.url)
    with engine.begin() as conn:
        Base.metadata.create_all(conn, tables=[audit.AuditEntry.__table__, audit.AuditHead.__table__])
        for ddl in audit.append_only_ddl(conn.dialect.name):
            conn.exec_driver_sql(ddl)
        conn.execute(insert(audit.AuditHead).values(id=1, last_id=0, last_hash=audit.GENESIS_HASH))
    yield engine, make_sessionmaker(engine), database
    engine.dispose()
    database.drop()
