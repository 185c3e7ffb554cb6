"""Shapes the lake hands out and takes in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ZoneStatePublic(BaseModel):
    table: str  # zone.name
    exists: bool
    snapshot_id: int | None = None
    rows: int = 0
    committed_at: dt.datetime | None = None


class LakeResourcePublic(BaseModel):
    """A catalog resource as the lake sees it: mounted or not, and its zone tables now."""

    name: str
    title: str
    provider: str
    department_id: int
    mounted: bool
    mounted_at: dt.datetime | None
    share_type: str
    zones: dict[str, ZoneStatePublic]


class SnapshotPublic(BaseModel):
    snapshot_id: int
    parent_id: int | None
    committed_at: dt.datetime
    operation: str
    added_rows: int
    deleted_rows: int
    total_rows: int
    total_files: int
    load_id: str | None
    is_current: bool


class RowsPublic(BaseModel):
    """Rows of one table as of a snapshot (time travel)."""

    table: str
    snapshot_id: int | None
    committed_at: dt.datetime | None
    as_of: str | None
    total_rows: int
    offset: int
    columns: list[str]
    rows: list[list[Any]]
    personal: bool  # rows from a zone holding personal data (the read was audited)


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sql: str = Field(min_length=1, max_length=20_000)
    reason: str | None = Field(None, max_length=500)
    as_of: str | None = Field(None, max_length=40)
    limit: int = Field(1000, ge=1, le=10_000)


class SqlResultPublic(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    tables: list[str]
    snapshots: dict[str, int | None]
    seconds: float
