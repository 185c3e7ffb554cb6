"""A migration that rebuilds a parent table (SQLite batch mode) must not cascade-delete its children.

Each test adds a test-only revision on top of the events branch (a temporary versions directory)
and applies it through ``db.upgrade``, the path `yiwang up` and `yiwang db upgrade` take.
"""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from helpers import new_database
from yiwang.core import db, migrate

CHILDREN = ("events_actions", "events_corrections")  # ON DELETE CASCADE to events_cases
TEST_REVISION = "9901_test_rebuild"


@pytest.fixture
def migrated(tmp_path):
    database = new_database(tmp_path)
    engine = db.make_engine(database.url)
    db.upgrade(engine)
    yield database, engine
    engine.dispose()
    database.drop()


def _add_revision(monkeypatch, directory: Path, url: str, body: str) -> None:
    """Write a revision after the events head into ``directory`` and make ``db.upgrade`` see it."""
    original = migrate.alembic_config
    down = ScriptDirectory.from_config(original(url)).get_revision("events@head").revision
    directory.mkdir()
    (directory / f"{TEST_REVISION}.py").write_text(
        f"from alembic import op\nimport sqlalchemy as sa\n\nrevision = {TEST_REVISION!r}\n"
        f"down_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{textwrap.indent(textwrap.dedent(body), '    ')}\n",
        encoding="utf-8",
    )

    def config(u: str):
        cfg = original(u)
        versions = Path(cfg.get_main_option("script_location")) / "versions"
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join([str(versions), str(directory)]))
        return cfg

    monkeypatch.setattr(migrate, "alembic_config", config)


def _insert(conn, table_name: str, **given) -> int:
    """Insert a row with ``given`` values and a plain value for every other required column."""
    table = sa.Table(table_name, sa.MetaData(), autoload_with=conn)
    values = dict(given)
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key or col.server_default is not None:
            continue
        kind = col.type.python_type
        values[col.name] = {str: "x", int: 0, float: 0.0, bool: False, dt.date: dt.date.today()}.get(kind, db.utcnow())
    return conn.execute(table.insert().values(values)).inserted_primary_key[0]


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("events_cases", *CHILDREN)}


def _with_children(engine) -> int:
    with engine.begin() as conn:
        case_id = _insert(
            conn,
            "events_cases",
            address="玉山镇 1 号",
            status="accepted",
            source="passive",
            channel="portal",
            triage_status="pending",
            warn_level="green",
            priority=3,
        )
        for child in CHILDREN:
            _insert(conn, child, case_id=case_id)
            _insert(conn, child, case_id=case_id)
    return case_id


def test_widening_a_parent_column_keeps_the_children(migrated, tmp_path, monkeypatch):
    """Finding 1: the rebuild dropped events_cases, and ON DELETE CASCADE emptied actions and corrections."""
    database, engine = migrated
    _with_children(engine)
    before = _counts(engine)
    assert before == {"events_cases": 1, "events_actions": 2, "events_corrections": 2}
    _add_revision(
        monkeypatch,
        tmp_path / "versions",
        database.url,
        """
        with op.batch_alter_table("events_cases") as batch_op:  # SQLite: rebuilt; PostgreSQL: ALTER COLUMN
            batch_op.alter_column("address", type_=sa.String(600), existing_type=sa.String(300),
                                  existing_nullable=True)
    """,
    )
    db.upgrade(engine)
    assert TEST_REVISION in db.current_revisions(engine)
    address = {c["name"]: c for c in sa.inspect(engine).get_columns("events_cases")}["address"]
    assert address["type"].length == 600  # the table really was altered
    assert _counts(engine) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT address FROM events_cases").scalar_one() == "玉山镇 1 号"


def test_a_migration_leaving_broken_references_is_rolled_back(migrated, tmp_path, monkeypatch):
    """Foreign keys are off while migrating on SQLite, so ``foreign_key_check`` must catch what they would have."""
    database, engine = migrated
    case_id = _with_children(engine)
    _add_revision(
        monkeypatch,
        tmp_path / "versions",
        database.url,
        f"""
        op.execute("UPDATE events_actions SET case_id = {case_id + 1000} WHERE case_id = {case_id}")
    """,
    )
    expected = migrate.MigrationError if engine.dialect.name == "sqlite" else IntegrityError
    with pytest.raises(expected) as raised:
        db.upgrade(engine)
    if engine.dialect.name == "sqlite":
        assert "events_actions rows" in str(raised.value) and "events_cases" in str(raised.value)
    assert TEST_REVISION not in db.current_revisions(engine)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM events_actions WHERE case_id = :c"), {"c": case_id}).scalar_one()
            == 2
        )
        if engine.dialect.name == "sqlite":  # and the pooled connection enforces foreign keys again
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_foreign_keys_are_on_again_after_a_failed_migration(migrated, tmp_path, monkeypatch):
    database, engine = migrated
    if engine.dialect.name != "sqlite":
        pytest.skip("foreign keys are switched off only on SQLite")
    _add_revision(
        monkeypatch,
        tmp_path / "versions",
        database.url,
        """
        raise RuntimeError("migration failed half-way")
    """,
    )
    with pytest.raises(RuntimeError, match="half-way"):
        db.upgrade(engine)
    assert engine.pool.checkedin() == 1  # the one connection, the migration's, is back in the pool
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
