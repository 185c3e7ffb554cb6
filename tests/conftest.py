"""Shared fixtures: a migrated, seeded database per test session; rollback per test; the app,
its client and one signed-in client per demo role.

Backend: SQLite by default; set ``YIWANG_TEST_DATABASE_URL`` to a PostgreSQL URL to run the same
suite against PostgreSQL (each run works in its own schema and drops it afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from helpers import (
    DEMO_ROLES,
    TestDatabase,
    env_for,
    login,
    make_settings,
    migrate_and_seed,
    new_database,
    pg_base_url,
)
from yiwang.core import crypto
from yiwang.core.config import Settings
from yiwang.core.db import make_engine


def pytest_report_header(config) -> str:
    url = pg_base_url()
    return f"yiwang database backend: {'PostgreSQL ' + make_url(url).render_as_string() if url else 'SQLite'}"


# Databases ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def template_home(tmp_path_factory) -> Iterator[tuple[Path, TestDatabase]]:
    """One migrated and seeded installation per test session (per xdist worker)."""
    home = tmp_path_factory.mktemp("home")
    database = new_database(home)
    migrate_and_seed(make_settings(home, database.url))
    yield home, database
    database.drop()


@pytest.fixture(scope="session")
def settings(template_home) -> Settings:
    home, database = template_home
    s = make_settings(home, database.url)
    crypto.configure_column_key(s.data_key_bytes)
    return s


@pytest.fixture(scope="session")
def engine(settings):
    eng = make_engine(settings.db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db_factory(engine) -> Iterator[sessionmaker[Session]]:
    """Sessions inside one outer transaction that is rolled back after the test.

    Services' commits become savepoints, so tests see committed state and leave nothing behind.
    """
    conn = engine.connect()
    outer = conn.begin()
    factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield factory
    outer.rollback()
    conn.close()


@pytest.fixture
def db(db_factory) -> Iterator[Session]:
    with db_factory() as session:
        yield session


@pytest.fixture
def fresh_install(tmp_path) -> Iterator[Settings]:
    """A separate, committed installation for tests that run commands in other processes."""
    database = new_database(tmp_path)
    s = make_settings(tmp_path / "home", database.url)
    migrate_and_seed(s)
    yield s
    database.drop()


@pytest.fixture
def yiwang_cli():
    """``yiwang_cli(settings, "audit", "verify")`` → the finished `yiwang` process (text output)."""
    import subprocess
    import sys

    def _run(s: Settings, *args: str, timeout: int = 120):
        return subprocess.run(
            [sys.executable, "-m", "yiwang.cli", *args], env=env_for(s), capture_output=True, text=True, timeout=timeout
        )

    return _run


# Web ---------------------------------------------------------------------------


@pytest.fixture
def app(settings, db_factory):
    from yiwang.app import create_app

    return create_app(settings, session_factory=db_factory)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def login_as(app, settings) -> Iterator:
    """``login_as("town")`` → a new client signed in as that demo user (own cookie jar)."""
    opened: list[TestClient] = []

    def _login(username: str, password: str | None = None) -> TestClient:
        c = TestClient(app)
        c.__enter__()
        opened.append(c)
        return login(c, username, password or settings.demo_password)

    yield _login
    for c in opened:
        c.__exit__(None, None, None)


class _RoleClients(dict):
    def __init__(self, login_as):
        super().__init__()
        self._login_as = login_as

    def __missing__(self, role: str) -> TestClient:
        client = self._login_as(DEMO_ROLES[role])
        self[role] = client
        return client


@pytest.fixture
def as_role(login_as) -> _RoleClients:
    """``as_role["town_worker"]`` → a client signed in as that role's demo account (lazily)."""
    return _RoleClients(login_as)


@pytest.fixture
def bearer(client, settings):
    """``bearer("town")`` → Authorization headers with a fresh OAuth2 access token."""

    def _bearer(username: str) -> dict[str, str]:
        r = client.post("/api/v1/auth/token", data={"username": username, "password": settings.demo_password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return _bearer


@pytest.fixture
def engine_for():
    """``engine_for(settings)`` → an engine on another installation (dispose it when done)."""
    return lambda s: make_engine(s.db_url)
