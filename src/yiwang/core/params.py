"""Bounded parameter types shared by every router: no input can reach the database out of range.

An id, offset or date that fits Python but not the database (an integer past 64 bits, year 1 or
9999 moved into another time zone) used to end in an ``OverflowError`` and a 500. Routes declare
their parameters with these types instead of a bare ``int`` / ``date``; FastAPI then answers 422
naming the field, and the OpenAPI document states the bounds::

    def get_case(case_id: Id): ...
    def list_cases(department_id: IdQuery = None, offset: Offset = 0): ...
    def kpis(start: DayQuery = None, end: DayQuery = None): ...

Bodies use ``IdField`` (``list[IdField]`` for lists of ids); code parsing a value itself calls
``check_id`` / ``check_moment``. ``core.web`` also turns a stray ``OverflowError`` into a 422.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from yiwang.core.errors import Invalid
from yiwang.core.i18n import _

MAX_ID = 2**63 - 1  # a signed 64-bit integer: SQLite's INTEGER, PostgreSQL's BIGINT
DAY_MIN = dt.date(1900, 1, 1)
DAY_MAX = dt.date(2199, 12, 31)
MOMENT_MIN = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
MOMENT_MAX = dt.datetime(2199, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
_DAYS = f"between {DAY_MIN.isoformat()} and {DAY_MAX.isoformat()}"

Id = Annotated[int, Path(ge=1, le=MAX_ID, description="A positive 64-bit id.")]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="A positive 64-bit id.")]
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip (at most 2^63-1).")]
DayQuery = Annotated[dt.date | None, Query(ge=DAY_MIN, le=DAY_MAX, description=f"A date {_DAYS}.")]
MomentQuery = Annotated[
    dt.datetime | None, Query(ge=MOMENT_MIN, le=MOMENT_MAX, description=f"A date-time {_DAYS} (UTC).")
]


def check_id(value: int, field: str) -> int:
    """``value`` if it is a positive 64-bit id, else ``Invalid`` naming ``field``."""
    if not 1 <= value <= MAX_ID:
        raise Invalid(_("%(field)s is out of range.", field=field), field=field)
    return value


def check_moment(value: dt.datetime, field: str) -> dt.datetime:
    """``value`` if it lies in the window every date must (naive values count as UTC), else ``Invalid``."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    try:
        inside = MOMENT_MIN <= aware <= MOMENT_MAX
    except OverflowError:  # comparing needs UTC offsets applied: year 1 at +14:00 has none
        inside = False
    if not inside:
        raise Invalid(
            _(
                "%(field)s must lie between %(start)s and %(end)s.",
                field=field,
                start=DAY_MIN.isoformat(),
                end=DAY_MAX.isoformat(),
            ),
            field=field,
        )
    return value
