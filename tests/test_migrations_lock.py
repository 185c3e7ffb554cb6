"""Only one migration runs at a time: a second `yiwang db upgrade` waits, then finds the database at heads."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time

from alembic.script import ScriptDirectory
from sqlalchemy import event, text

from helpers import env_for, make_settings, new_database
from yiwang.app import load_models
from yiwang.core import db, migrate


def _versions(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))


def _at_heads_once(engine, url: str) -> bool:
    """Every head applied, each version row once (a head another head depends on has no row of its own)."""
    rows = _versions(engine)
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    applied = {r.revision for r in script.iterate_revisions(tuple(rows), "base")}
    return len(rows) == len(set(rows)) and set(rows) <= set(script.get_heads()) <= applied


def test_two_upgrades_at_once_both_finish(tmp_path):
    """Finding 8: two `yiwang db upgrade` started together on a fresh database collided."""
    database = new_database(tmp_path)
    env = env_for(make_settings(tmp_path / "home", database.url))
    try:
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "yiwang.cli", "db", "upgrade"],
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
        assert [code for code, _ in results] == [0, 0], results
        engine = db.make_engine(database.url)
        assert _at_heads_once(engine, database.url)
        engine.dispose()
    finally:
        database.drop()


def test_upgrade_waits_for_the_migration_lock(tmp_path):
    """While another run holds the lock, ``upgrade`` waits — it reads no version table — and does not fail."""
    load_models()  # imported beforehand, so that without a lock the run would reach the version table at once
    database = new_database(tmp_path)
    engine = db.make_engine(database.url)
    holder = db.make_engine(database.url)
    version_reads: list[float] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _log(conn, cursor, statement, parameters, context, executemany):
        if "alembic_version" in statement + repr(parameters):
            version_reads.append(time.monotonic())

    release = _hold_lock(holder)
    errors: list[BaseException] = []

    def run():
        try:
            db.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    try:
        thread.start()
        time.sleep(2.0)
        assert thread.is_alive()
    finally:
        released_at = time.monotonic()
        release()
        thread.join(timeout=300)
        holder.dispose()
    try:
        assert errors == []
        assert version_reads and min(version_reads) >= released_at
        assert _at_heads_once(engine, database.url)
    finally:
        engine.dispose()
        database.drop()


def _hold_lock(engine):
    """Take the migration lock as another `yiwang db upgrade` would; returns the function that releases it."""
    path = db.sqlite_file(engine)
    if path is not None:
        fd = os.open(path + "-migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return lambda: os.close(fd)
    conn = engine.connect()
    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": migrate.MIGRATION_LOCK_KEY})
    conn.commit()

    def release():
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": migrate.MIGRATION_LOCK_KEY})
        conn.commit()
        conn.close()

    return release
