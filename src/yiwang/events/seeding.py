"""Bulk writers for reference packs (dispatch rules, historical cases): no per-row service calls.

Used only by ``yiwang.reference`` while loading a part, inside the part's transaction (the
part writes one audit entry for everything it loaded).
"""

from __future__ import annotations

import random

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from yiwang.events.models import ACTION_TABLE, CASE_TABLE, DISPATCH_RULE_TABLE, TASK_TABLE
from yiwang.events.settings import get_events_settings
from yiwang.events.triage import corpus


def add_dispatch_rules(session: Session, rows: list[dict]) -> None:
    if rows:
        session.connection().execute(insert(DISPATCH_RULE_TABLE), rows)


def bulk_insert_cases(session: Session, rows: list[dict], chunk: int = 5000) -> list[int]:
    """Insert cases, returning their ids in the order given.

    On SQLite the load holds the write lock (BEGIN IMMEDIATE), so ids are simply the next
    rowids and plain executemany is used (RETURNING would go row by row there).
    """
    table = CASE_TABLE
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        first = (conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        for i in range(0, len(rows), chunk):
            conn.execute(insert(table), rows[i : i + chunk])
        return list(range(first, first + len(rows)))
    ids: list[int] = []
    for i in range(0, len(rows), chunk):
        result = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows[i : i + chunk])
        ids.extend(r[0] for r in result)
    return ids


def bulk_insert_timeline(session: Session, tasks: list[dict], actions: list[dict], chunk: int = 10000) -> None:
    for i in range(0, len(tasks), chunk):
        session.connection().execute(insert(TASK_TABLE), tasks[i : i + chunk])
    for i in range(0, len(actions), chunk):
        session.connection().execute(insert(ACTION_TABLE), actions[i : i + chunk])


def synthetic_report(rng: random.Random, code: str) -> str:
    """A report text in the style of the hotline corpus (for generated history)."""
    return corpus.make_report(rng, code, "train").text


def history_size() -> int:
    return get_events_settings().history_cases
