"""Tables of the event center: cases, department tasks, the timeline, photos, and the
machinery around them (API keys, triage corrections and model versions, notifications,
dispatch rules).

A case's ``version`` is SQLAlchemy's optimistic lock: an UPDATE that finds another
version raises, so two handlers cannot complete the same step.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from yiwang.core.db import Base, EncryptedText, utcnow

# Closed value sets written by the code (queries.ALL_STATUSES, SOURCES, CHANNELS; workflow; sla), kept as CHECKs.
CASE_STATUSES = (
    "accepted",
    "registered",
    "dispatched",
    "handling",
    "verifying",
    "verified",
    "backlog",
    "closed",
    "rated",
    "invalid",
    "merged",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Case(Base):
    __tablename__ = "events_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    idem_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    source: Mapped[str] = mapped_column(String(12))  # passive | active | automatic
    channel: Mapped[str] = mapped_column(String(20))  # portal | hotline | open311 | app | grid | iot | video ...
    client: Mapped[str | None] = mapped_column(String(100))  # API key name, hotline batch
    external_id: Mapped[str | None] = mapped_column(String(100))
    source_ref: Mapped[str | None] = mapped_column(String(200), index=True)  # machine source, for "cleared"
    status: Mapped[str] = mapped_column(String(12), index=True)
    category_code: Mapped[str | None] = mapped_column(String(6), index=True)
    category_by: Mapped[str | None] = mapped_column(String(12))  # reporter | triage | dispatcher
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    region_code: Mapped[str | None] = mapped_column(String(20), index=True)
    town_code: Mapped[str | None] = mapped_column(String(9), index=True)
    located_by: Mapped[str | None] = mapped_column(String(10))  # point | address | text | dispatcher
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id"), index=True)
    proposed_department_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id"), index=True)
    priority: Mapped[int] = mapped_column(SmallInteger, default=3)
    triage_status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    triage_code: Mapped[str | None] = mapped_column(String(6))
    triage_confidence: Mapped[float | None] = mapped_column(Float)
    triage_version: Mapped[str | None] = mapped_column(String(40))
    needs_human: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("events_cases.id"), index=True)
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("org_users.id"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(EncryptedText)
    reporter_phone: Mapped[str | None] = mapped_column(EncryptedText)
    reporter_phone_index: Mapped[str | None] = mapped_column(String(64))
    photos: Mapped[int] = mapped_column(SmallInteger, default=0)
    is_joint: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    registered_at: Mapped[dt.datetime | None]
    dispatched_at: Mapped[dt.datetime | None]
    first_response_at: Mapped[dt.datetime | None]
    handled_at: Mapped[dt.datetime | None]
    verified_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    step: Mapped[str | None] = mapped_column(String(10))  # dispatch | respond | handle | verify
    step_started_at: Mapped[dt.datetime | None]
    yellow_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None]  # deadline of the current step
    handle_due_at: Mapped[dt.datetime | None]  # deadline of the whole handling
    warn_level: Mapped[str] = mapped_column(String(6), default="green")
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_check_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    closed_on_time: Mapped[bool | None]
    backlog_reason: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    return_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    supervise_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy declares it on the base
    __table_args__ = (
        Index("ix_events_cases_phone", "reporter_phone_index"),
        Index("ix_events_cases_cat_created", "category_code", "created_at"),
        # Duplicate search (same class, a few metres, a day): covers the whole filter, so the
        # lookup of each new case reads a handful of index entries, whatever the day's volume.
        Index("ix_events_cases_near", "category_code", "lat", "lng", "created_at", "status"),
        CheckConstraint(_one_of("status", CASE_STATUSES), name="status"),
        CheckConstraint(_one_of("source", ("passive", "active", "automatic")), name="source"),
        CheckConstraint(
            _one_of(
                "channel",
                ("portal", "hotline", "open311", "app", "grid", "inspector", "iot", "video", "indicator", "api"),
            ),
            name="channel",
        ),
        CheckConstraint(_one_of("category_by", ("reporter", "triage", "dispatcher")), name="category_by"),
        CheckConstraint(_one_of("located_by", ("point", "address", "text", "dispatcher")), name="located_by"),
        CheckConstraint(_one_of("triage_status", ("pending", "done")), name="triage_status"),
        CheckConstraint(_one_of("step", ("dispatch", "respond", "handle", "verify")), name="step"),
        CheckConstraint(_one_of("warn_level", ("green", "yellow", "red")), name="warn_level"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
    )


class Task(Base):
    """One department's share of a case: the lead, or an assisting department (joint handling)."""

    __tablename__ = "events_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("events_cases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("org_departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(6))  # lead | assist
    status: Mapped[str] = mapped_column(String(10))  # pending | accepted | done | returned | cancelled
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    done_at: Mapped[dt.datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    ext_status: Mapped[str | None] = mapped_column(String(10))  # requested | approved | rejected
    ext_until: Mapped[dt.datetime | None]
    ext_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy declares it on the base
    __table_args__ = (
        CheckConstraint(_one_of("role", ("lead", "assist")), name="role"),
        CheckConstraint(_one_of("status", ("pending", "accepted", "done", "returned", "cancelled")), name="status"),
        CheckConstraint(_one_of("ext_status", ("requested", "approved", "rejected")), name="ext_status"),
    )


class Action(Base):
    """One step of a case's timeline: who did what, when, with notes and photos."""

    __tablename__ = "events_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("events_cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]
    actor_name: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)  # JSON
    # Staff ticked "visible to the reporter and the public" for this note (or marked it so later, audited):
    # only such notes reach a signed-out caller (Open311 status_notes, the portal's status page), redacted.
    # The bulk writers (intake, triage, timers) leave it to the server default: never public by accident.
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        CheckConstraint(_one_of("from_status", CASE_STATUSES), name="from_status"),
        CheckConstraint(_one_of("to_status", CASE_STATUSES), name="to_status"),
    )


def new_public_id() -> str:
    """An unguessable id for a photo's public address (128 random bits, URL-safe, 22 characters)."""
    return secrets.token_urlsafe(16)


class Attachment(Base):
    """A photo: stored under ``YIWANG_HOME/uploads/events/``, content-checked, with its SM3.

    Staff open it by ``id`` (``/workspace/events/photos/<id>``, scope-checked). The public reaches it
    only when staff marked it ``publishable``, and only by ``public_id`` (``/open311/v2/media/<public_id>``):
    a sequential id would let anyone walk through every photo.
    """

    __tablename__ = "events_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("events_cases.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("events_actions.id"), index=True)
    path: Mapped[str] = mapped_column(String(300))
    original_name: Mapped[str | None] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sm3: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    uploaded_by: Mapped[int | None]
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    publishable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiKey(Base):
    """A key issued by staff to an Open311 client or a machine source; only its SM3 is stored."""

    __tablename__ = "events_api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(150))
    revoked_at: Mapped[dt.datetime | None]


class Correction(Base):
    """A dispatcher changed the category the model proposed; feeds the next retraining."""

    __tablename__ = "events_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("events_cases.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    predicted_code: Mapped[str | None] = mapped_column(String(6))
    corrected_code: Mapped[str] = mapped_column(String(6))
    model_version: Mapped[str | None] = mapped_column(String(40))
    actor_id: Mapped[int | None]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained triage model on disk (``YIWANG_HOME/models/events-triage/<version>/``)."""

    __tablename__ = "events_model_versions"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64))
    corrections: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[str] = mapped_column(Text)  # JSON
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class Notification(Base):
    """An in-app notice to one user or to everyone of a department."""

    __tablename__ = "events_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("org_users.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id"))
    role: Mapped[str | None] = mapped_column(String(50))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("events_cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[dt.datetime | None]

    # The unread count and list (user OR departments OR roles, read_at IS NULL): one index per branch of the
    # OR, each ending in read_at so that unread notices are found without visiting read ones. They also serve
    # the user_id / department_id foreign keys (they replace the single-column indexes of those).
    __table_args__ = (
        Index("ix_events_notifications_user_unread", "user_id", "read_at"),
        Index("ix_events_notifications_department_unread", "department_id", "read_at"),
        Index("ix_events_notifications_role_unread", "role", "read_at"),
    )


class DispatchRule(Base):
    """Which department handles a category in a town (``town_code`` NULL = everywhere)."""

    __tablename__ = "events_dispatch_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(String(6), index=True)
    town_code: Mapped[str | None] = mapped_column(String(9))
    department_id: Mapped[int] = mapped_column(ForeignKey("org_departments.id"), index=True)
    assist_department_ids: Mapped[str | None] = mapped_column(String(100))  # space-separated ids


def _table(model: type[Base]) -> Table:
    """A model's ``Table``: SQLAlchemy types ``__table__`` as any ``FromClause``; these are declared with columns."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# For Core statements (bulk inserts and updates); resolved once, at import.
CASE_TABLE = _table(Case)
TASK_TABLE = _table(Task)
ACTION_TABLE = _table(Action)
DISPATCH_RULE_TABLE = _table(DispatchRule)
