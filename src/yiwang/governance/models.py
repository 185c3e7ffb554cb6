"""Tables of governance: loads (also the queue of uploaded files), quarantine fixes, lineage events."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yiwang.core.db import Base, EncryptedText, utcnow


class Load(Base):
    """One load of a resource: queued (an upload waiting for the worker), running, committed or failed.

    Counts, the quality report and the snapshot ids per zone are filled when it commits; a
    failure keeps the source error's code, file, line and column. ``heartbeat_at`` moves while
    it runs, so a load whose process was killed is recognised and marked failed.
    """

    __tablename__ = "governance_loads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # also the lake load id of its snapshots
    # References never cascade: a load is governance history, so its entry, department or user cannot be
    # deleted from under it (RESTRICT), and a deleted user only loses the link (SET NULL; the name stays).
    resource: Mapped[str] = mapped_column(ForeignKey("catalog_entries.name", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("org_departments.id", ondelete="RESTRICT"))
    mode: Mapped[str] = mapped_column(String(10))  # replace | append | upsert
    status: Mapped[str] = mapped_column(String(12))  # queued | running | committed | failed
    origin: Mapped[str] = mapped_column(String(20))  # cli | upload | resubmit | reference
    source_name: Mapped[str] = mapped_column(String(300))
    source_sm3: Mapped[str | None] = mapped_column(String(64))
    source_bytes: Mapped[int | None] = mapped_column(BigInteger)
    upload_path: Mapped[str | None] = mapped_column(Text)  # queued uploads: the file on disk
    options: Mapped[str] = mapped_column(Text, default="{}")  # encoding, sheet, ... (JSON)
    actor_username: Mapped[str] = mapped_column(String(150))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("org_users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    progress_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    by_rule: Mapped[str] = mapped_column(Text, default="{}")
    quality: Mapped[str] = mapped_column(Text, default="{}")
    quality_score: Mapped[float | None] = mapped_column(Float)
    k_anonymity: Mapped[str] = mapped_column(Text, default="{}")
    snapshots: Mapped[str] = mapped_column(Text, default="{}")
    rules_version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(36))  # OpenLineage run id
    error: Mapped[str | None] = mapped_column(Text)  # JSON: code, message, file, line, column
    resubmit_of: Mapped[str | None] = mapped_column(ForeignKey("governance_loads.id", ondelete="RESTRICT"), index=True)
    seconds: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_governance_loads_resource_created", "resource", "created_at"),
        Index("ix_governance_loads_status", "status"),
        CheckConstraint("mode IN ('replace', 'append', 'upsert')", name="mode"),
        CheckConstraint("status IN ('queued', 'running', 'committed', 'failed')", name="status"),
        CheckConstraint("origin IN ('cli', 'upload', 'pull', 'resubmit', 'reference')", name="origin"),
    )


# list_loads: newest first (ORDER BY created_at DESC, id), for the whole city or per department
Index("ix_governance_loads_created", Load.created_at.desc(), Load.id)
Index("ix_governance_loads_department_created", Load.department_id, Load.created_at.desc(), Load.id)


class QuarantineFix(Base):
    """Staff's correction of one quarantined row (load id + source line), until it is resubmitted.

    The quarantine zone itself stays append-only evidence of what was received; fixes and
    resolutions are small transactional facts, so they live here. Values are personal data:
    SM4-encrypted at rest.
    """

    __tablename__ = "governance_quarantine_fixes"

    id: Mapped[int] = mapped_column(primary_key=True)
    load_id: Mapped[str] = mapped_column(ForeignKey("governance_loads.id", ondelete="RESTRICT"))
    line: Mapped[int] = mapped_column(BigInteger)
    resource: Mapped[str] = mapped_column(ForeignKey("catalog_entries.name", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(12))  # fixed | resubmitted | resolved | discarded
    values: Mapped[str | None] = mapped_column(EncryptedText)  # JSON {column: value}
    fixed_by: Mapped[str] = mapped_column(String(150))
    fixed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resubmit_load_id: Mapped[str | None] = mapped_column(
        ForeignKey("governance_loads.id", ondelete="RESTRICT"), index=True
    )

    __table_args__ = (
        UniqueConstraint("load_id", "line", name="uq_governance_quarantine_fixes_load_line"),
        Index("ix_governance_quarantine_fixes_resource_status", "resource", "status"),
        CheckConstraint("status IN ('fixed', 'resubmitted', 'resolved', 'discarded')", name="status"),
    )


class LineageEvent(Base):
    """One OpenLineage RunEvent as emitted (validated JSON), and whether it was forwarded."""

    __tablename__ = "governance_lineage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(10))
    event_time: Mapped[dt.datetime]
    job_name: Mapped[str] = mapped_column(String(200))
    resource: Mapped[str | None] = mapped_column(String(50))  # a lake table's name: not always a catalog entry
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id", ondelete="RESTRICT"), index=True)
    payload: Mapped[str] = mapped_column(Text)
    forwarded_at: Mapped[dt.datetime | None]
    forward_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_governance_lineage_events_run_id", "run_id"),
        Index("ix_governance_lineage_events_resource", "resource"),
        CheckConstraint("event_type IN ('START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER')", name="event_type"),
    )
