"""Shapes governance hands out and takes in."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["replace", "append", "upsert"]


class LoadPublic(BaseModel):
    """One load: what was read, what was accepted or quarantined, the quality, the snapshots."""

    id: str
    resource: str
    mode: str
    status: str
    origin: str
    source_name: str
    source_sm3: str | None
    source_bytes: int | None
    actor: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    progress_rows: int
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_by_rule: dict[str, int]
    quality: dict[str, Any]
    quality_score: float | None
    k_anonymity: dict[str, Any]
    snapshots: dict[str, int | None]
    snapshot_id: int | None  # the clean zone's snapshot
    rules_version: int | None
    run_id: str
    error: dict[str, Any] | None
    resubmit_of: str | None
    seconds: float | None


class SqlPullCreate(BaseModel):
    """Pull a table or query from any SQLAlchemy database URL into a resource."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=3, max_length=1000)
    table: str | None = Field(None, max_length=200)
    query: str | None = Field(None, max_length=20_000)
    mode: Mode = "append"


class QuarantineRowPublic(BaseModel):
    load_id: str
    line: int
    rule: str
    column: str | None
    value: str | None
    reason: str | None
    failures: list[dict[str, Any]]
    values: dict[str, Any]  # the row as received
    fix: dict[str, Any] | None  # staff's correction, if any
    status: str  # open | fixed | resubmitted | resolved | discarded


class FixCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    load_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    line: int = Field(ge=1, le=10**12)
    values: dict[str, str | None] = Field(max_length=500)
    reason: str = Field(min_length=4, max_length=500)


class ResubmitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["append", "upsert"] | None = None


class KAnonymityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quasi_identifiers: list[str] = Field(min_length=1, max_length=10)
    k: int = Field(5, ge=2, le=1000)
    as_of: str | None = Field(None, max_length=40)


class KAnonymityPublic(BaseModel):
    table: str
    snapshot_id: int | None
    quasi_identifiers: list[str]
    threshold: int
    k: int  # smallest equivalence class
    satisfied: bool
    classes: int
    rows: int
    classes_below: int
    rows_below: int
    smallest: list[dict[str, Any]]


class DecryptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: str = Field(min_length=1, max_length=100)
    values: list[str] = Field(min_length=1, max_length=1000)
    reason: str = Field(min_length=4, max_length=500)
