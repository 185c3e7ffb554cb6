"""Pydantic shapes of the event center's JSON API (inputs forbid unknown fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from yiwang.core.params import MAX_ID, IdField

TEXT = 100_000  # hard ceiling; the configured limit (YIWANG_EVENTS_MAX_TEXT_CHARS) answers 413 below it


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseCreate(_In):
    """A report by staff (inspector, grid worker) or a signed-in citizen."""

    description: str = Field(max_length=TEXT)
    category_code: str | None = Field(None, max_length=6)
    lat: float | None = Field(None, ge=-90, le=90)
    long: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=300)
    reporter_name: str | None = Field(None, max_length=50)
    reporter_phone: str | None = Field(None, max_length=20)
    idempotency_key: str | None = Field(None, max_length=100)


class MachineIntake(_In):
    """An alarm from a machine source (IoT sensor, indicator warning, video AI)."""

    channel: str = Field("iot", pattern="^(iot|video|indicator|api)$")
    source_ref: str = Field(min_length=1, max_length=150, description="The source's own alarm id; used to clear it.")
    description: str = Field(max_length=TEXT)
    category_code: str | None = Field(None, max_length=6)
    lat: float | None = Field(None, ge=-90, le=90)
    long: float | None = Field(None, ge=-180, le=180)
    address: str | None = Field(None, max_length=300)
    idempotency_key: str | None = Field(None, max_length=100)


class MachineClear(_In):
    source_ref: str = Field(min_length=1, max_length=150)
    note: str | None = Field(None, max_length=500)


class HotlineRecord(_In):
    record_no: str = Field(min_length=1, max_length=100)
    called_at: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=50)
    phone: str | None = Field(None, max_length=20)
    content: str = Field(max_length=TEXT)
    address: str | None = Field(None, max_length=300)
    category: str | None = Field(None, max_length=50)
    lat: float | None = Field(None, ge=-90, le=90)
    long: float | None = Field(None, ge=-180, le=180)


class HotlineBatch(_In):
    records: list[HotlineRecord] = Field(min_length=1, max_length=20000)


class Step(_In):
    """Body of a workflow step; each step uses the fields it needs."""

    version: int | None = Field(None, ge=1, le=MAX_ID, description="The version you looked at (optimistic locking).")
    note: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    category_code: str | None = Field(None, max_length=6)
    region_code: str | None = Field(None, max_length=20)
    department_id: int | None = Field(None, ge=1, le=MAX_ID)
    assist_ids: list[IdField] = Field(default_factory=list, max_length=10)
    force: bool = False
    days: int | None = Field(None, ge=1, le=30)
    approve: bool | None = None
    passed: bool | None = None
    rating: int | None = Field(None, ge=1, le=5)
    comment: str | None = Field(None, max_length=500)
    into: str | None = Field(None, max_length=20, description="Case number to merge into.")
    public: bool = Field(
        False,
        description="Make this step's note visible to the reporter and the public "
        "(Open311 status_notes, the portal's status page), redacted. Only register, dispatch, "
        "complete, verify, close, backlog and invalidate take it; the default keeps the note "
        "internal.",
    )


class Visibility(_In):
    """Make a step's note, or a photo, visible to the public (``true``) or internal again (``false``)."""

    public: bool


class BulkDispatch(_In):
    ids: list[IdField] = Field(min_length=1, max_length=500)


class Accepted(BaseModel):
    id: int
    number: str
    token: str
    created: bool
