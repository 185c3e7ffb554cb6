"""Who may destroy the ledger: not the application role of README's production grants, and not a downgrade."""

from __future__ import annotations

import importlib.util
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import yiwang
from yiwang.core import audit
from yiwang.core.db import session_scope
from yiwang.core.security import SYSTEM_ACTOR

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _append(factory, n: int = 1) -> None:
    with session_scope(factory) as session:
        for i in range(n):
            audit.record(session, actor=SYSTEM_ACTOR, action="test.write", target_id=i)


def _documented_grants(schema: str, role: str) -> list[str]:
    block = next(b for b in re.findall(r"```sql\n(.*?)```", README, re.S) if "audit_entries" in b)
    statements = [s.strip() for s in block.replace("yiwang_app", f'"{role}"').split(";") if s.strip()]
    return [re.sub(r"\bSCHEMA public\b", f'SCHEMA "{schema}"', s) for s in statements]


def test_application_role_can_append_but_not_rewrite(ledger):
    engine, factory, database = ledger
    if engine.dialect.name != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    _append(factory, 3)
    role = f"yw_app_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER')
    try:
        with engine.begin() as conn:
            for statement in _documented_grants(database.schema, role):
                conn.exec_driver_sql(statement)
        refused = {}
        for name, sql in {
            "update": "UPDATE audit_entries SET reason = 'x' WHERE id = 1",
            "delete": "DELETE FROM audit_entries WHERE id = 3",
            "truncate": "TRUNCATE audit_entries",
            "replica": "SET LOCAL session_replication_role = replica",
            "drop trigger": "DROP TRIGGER audit_entries_no_update ON audit_entries",
        }.items():
            with engine.connect() as conn, conn.begin():
                conn.exec_driver_sql(f'SET LOCAL ROLE "{role}"')
                with pytest.raises(DBAPIError) as caught:
                    conn.exec_driver_sql(sql)
                refused[name] = str(caught.value.orig)
        for name in ("update", "delete", "truncate"):
            assert "permission denied for table audit_entries" in refused[name], refused[name]
        assert "permission denied" in refused["replica"] and "must be owner" in refused["drop trigger"]

        with factory() as session:  # the application's own append path, as that role
            session.execute(text(f'SET LOCAL ROLE "{role}"'))
            audit.record(session, actor=SYSTEM_ACTOR, action="test.as_app")
            session.commit()
        result = audit.verify_snapshot(factory)
        assert result.ok and result.entries == 4
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')


def _foundation_migration():
    path = Path(yiwang.__file__).parent / "migrations" / "versions" / "0001_foundation.py"
    spec = importlib.util.spec_from_file_location("foundation_0001", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _downgrade(engine) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        _foundation_migration().downgrade()


def test_downgrade_refuses_to_drop_a_ledger_with_entries(ledger):
    engine, factory, _ = ledger
    _append(factory, 2)
    with pytest.raises(RuntimeError, match="audit ledger"):
        _downgrade(engine)
    assert audit.verify_snapshot(factory).entries == 2


def test_downgrade_guard_lets_an_empty_ledger_go(ledger):
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    engine, _, _ = ledger
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        _foundation_migration()._refuse_to_destroy_the_ledger()  # no error: nothing to lose
