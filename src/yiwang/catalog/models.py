"""Tables of the resource catalog.

An entry keeps its working copy (the spec officers edit) and points to its latest published
version; each publication freezes the spec in ``catalog_versions`` (never updated). Columns
repeated from the spec (title, share type, ...) exist only so lists can filter and sort in SQL.
Rules get their own version numbers (a new one only when they change), which loads cite.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yiwang.core.db import Base, utcnow


class CatalogClass(Base):
    """A node of the classification: 类 (level 1), 项 (2), 目 (3), 细目 (4)."""

    __tablename__ = "catalog_classes"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("catalog_classes.code"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_departments.id"), index=True
    )  # 部门类 目 of one department
    sort: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 4", name="level"),)


class _Listed:
    """Spec fields repeated as columns for filtering and sorting lists."""

    title: Mapped[str] = mapped_column(String(100))
    classification: Mapped[str] = mapped_column(String(12))
    share_type: Mapped[str] = mapped_column(String(20))
    open_type: Mapped[str] = mapped_column(String(20))
    update_cycle: Mapped[str] = mapped_column(String(20))
    items_count: Mapped[int] = mapped_column(Integer)


# The closed value sets of the listed columns (catalog.spec's Literal types), as CHECKs per table.
def _listed_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint("share_type IN ('unconditional', 'conditional', 'none')", name="share_type"),
        CheckConstraint("open_type IN ('open', 'conditional', 'closed')", name="open_type"),
        CheckConstraint(
            "update_cycle IN ('realtime', 'hourly', 'daily', 'weekly', 'monthly', 'quarterly', "
            "'half_yearly', 'yearly', 'irregular')",
            name="update_cycle",
        ),
    )


class CatalogEntry(_Listed, Base):
    __tablename__ = "catalog_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    code: Mapped[str | None] = mapped_column(String(40), unique=True)  # assigned at first publication
    department_id: Mapped[int] = mapped_column(ForeignKey("org_departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # draft | submitted | rejected | published
    spec: Mapped[str] = mapped_column(Text)  # the working copy, JSON
    revision: Mapped[int] = mapped_column(Integer, default=1)  # bumps on every save (optimistic locking)
    published_version: Mapped[int | None] = mapped_column(Integer)
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(150))
    submitted_at: Mapped[dt.datetime | None]
    mounted: Mapped[bool] = mapped_column(Boolean, default=False)
    mount_tables: Mapped[str] = mapped_column(Text, default="{}")  # JSON {zone: table}
    mounted_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'submitted', 'rejected', 'published')", name="status"),
        *_listed_checks(),
    )


class CatalogVersion(_Listed, Base):
    """A published version: an immutable snapshot of the spec."""

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[str] = mapped_column(Text)
    rules_version: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str] = mapped_column(String(150))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("entry_id", "number", name="uq_catalog_versions_entry_number"),
        *_listed_checks(),
    )


class CatalogRules(Base):
    """One version of an entry's governance rules (JSON), numbered per entry."""

    __tablename__ = "catalog_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))  # SM3 of the canonical JSON: same rules, same version
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(150))

    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_catalog_rules_entry_version"),)


class CatalogChange(Base):
    """The change history: who did what to an entry, with the field-by-field difference."""

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(30))
    version: Mapped[int | None] = mapped_column(Integer)
    diff: Mapped[str] = mapped_column(Text, default="[]")  # JSON [{field, old, new}]
    note: Mapped[str | None] = mapped_column(Text)


class CatalogLoad(Base):
    """A fact reported by the lake: one load of the resource, and whether rules and masks applied."""

    __tablename__ = "catalog_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"))
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(150))
    rules_version: Mapped[int | None] = mapped_column(Integer)
    rules_applied: Mapped[bool] = mapped_column(Boolean)
    masking_applied: Mapped[bool] = mapped_column(Boolean)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[str] = mapped_column(Text, default="{}")

    __table_args__ = (Index("ix_catalog_loads_entry_id_loaded_at", "entry_id", "loaded_at"),)


class CatalogSearchTerm(Base):
    """The search index: CJK bigrams (and single characters) and ASCII words, weighted by field.

    Each entry is indexed twice: its working copy (``layer='working'``, for those who may see
    drafts) and its latest published version (``layer='published'``, for everyone else).
    """

    __tablename__ = "catalog_search_terms"

    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"), primary_key=True)
    layer: Mapped[str] = mapped_column(String(10), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    weight: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_catalog_search_terms_term", "term"),
        CheckConstraint("layer IN ('working', 'published')", name="layer"),
    )
