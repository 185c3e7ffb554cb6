"""Plain helpers for tests (importable as ``helpers``; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from yiwang.core.config import Settings

PG_ENV = "YIWANG_TEST_DATABASE_URL"
DEMO_ROLES = {  # role key -> demo username
    "admin": "admin",
    "auditor": "auditor",
    "data_officer": "officer",
    "case_handler": "handler",
    "town_worker": "town",
    "grid_worker": "grid",
    "leader": "leader",
    "citizen": "citizen",
    "enterprise": "enterprise",
}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str) -> TestClient:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, f"sign-in of {username} failed: {response.status_code}"
    return client


def env_for(settings: Settings) -> dict[str, str]:
    """Environment variables that point a `yiwang` subprocess at ``settings``' installation."""
    env = dict(os.environ)
    env.update(
        YIWANG_HOME=str(settings.home),
        YIWANG_DATABASE_URL=settings.db_url,
        YIWANG_PROFILE=settings.profile,
        YIWANG_LOG_LEVEL="WARNING",
    )
    return env


def pg_base_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@dataclass
class TestDatabase:
    url: str
    schema: str | None = None  # PostgreSQL schema owned by this database

    def drop(self) -> None:
        if self.schema:
            admin = create_engine(pg_base_url().replace("postgresql://", "postgresql+psycopg://", 1))
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


def new_database(tmp: Path) -> TestDatabase:
    """An empty database: a SQLite file under ``tmp`` or a fresh PostgreSQL schema."""
    base = pg_base_url()
    if not base:
        return TestDatabase(url=f"sqlite:///{tmp / 'yiwang.db'}")
    schema = f"yw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(base).set(drivername="postgresql+psycopg").update_query_dict({"options": f"-csearch_path={schema}"})
    return TestDatabase(url=url.render_as_string(hide_password=False), schema=schema)


def make_settings(home: Path, database_url: str, **overrides) -> Settings:
    values = dict(home=home, database_url=database_url, profile="demo", log_level="WARNING", log_format="console")
    values.update(overrides)
    return Settings(**values)


def migrate_and_seed(settings: Settings) -> None:
    from yiwang.cli import prepare

    prepare(settings)


def timed_write(factory, sql: str) -> dict:
    """One committed write in a session of its own: ``{"error": repr or None, "seconds": wall time}``
    (tests that show a writer is not kept waiting run it on another thread)."""
    import time

    from sqlalchemy import text

    started = time.perf_counter()
    outcome: dict = {"error": None}
    try:
        with factory() as session:
            session.execute(text(sql))
            session.commit()
    except Exception as exc:
        outcome["error"] = repr(exc)
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def run_async(coro):
    """``asyncio.run`` in a thread of its own: a browser test may leave an event loop running in this one."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
