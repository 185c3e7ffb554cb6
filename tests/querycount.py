"""Counting SQL statements (tests/test_query_counts.py and the domain tests that keep a budget)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event

BUDGETS: dict[str, int] = json.loads((Path(__file__).parent / "query_counts.json").read_text())


@contextmanager
def counting() -> Iterator[list[str]]:
    """The statements any engine sends inside the block (the lake catalog has its own engine);
    savepoints of the test harness are not counted."""
    statements: list[str] = []

    def _count(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", _count)
