"""Organisation and identity tables: regions, departments, users, roles, sessions, tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yiwang.core.db import Base, EncryptedText, utcnow


class Region(Base):
    """City → town-level unit → village/community → grid, keyed by nested statistical codes.

    Child codes extend their parent's code, so a subtree is ``code LIKE 'prefix%'``.
    """

    __tablename__ = "org_regions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))  # city | town | village | grid
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("org_regions.code"), index=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    lng: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry (WGS84)
    geometry_approximate: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_org_regions_level", "level"),
        CheckConstraint("level IN ('city', 'town', 'village', 'grid')", name="level"),
    )


class Department(Base):
    """A municipal department (委办局) with its unified social credit code."""

    __tablename__ = "org_departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    short_name: Mapped[str] = mapped_column(String(50))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # organ | institution | enterprise
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("org_regions.code"), index=True)

    __table_args__ = (CheckConstraint("kind IN ('organ', 'institution', 'enterprise')", name="kind"),)


class User(Base):
    __tablename__ = "org_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # staff | citizen | enterprise
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("org_departments.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("org_regions.code"), index=True)
    # Personal data: encrypted at rest, with blind indexes for exact lookups.
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    id_number: Mapped[str | None] = mapped_column(EncryptedText)
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18))  # enterprise accounts
    email: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    department: Mapped[Department | None] = relationship(lazy="joined")
    region: Mapped[Region | None] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint("kind IN ('staff', 'citizen', 'enterprise')", name="kind"),)

    @property
    def role_keys(self) -> list[str]:
        return sorted(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "org_user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("org_users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(50), primary_key=True)


class WebSession(Base):
    """A signed-in browser; the cookie holds a random token, the table only its SM3 digest."""

    __tablename__ = "org_web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("org_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[dt.datetime | None]


class ApiToken(Base):
    """Bearer tokens: short-lived OAuth2 access tokens and long-lived named, scoped tokens."""

    __tablename__ = "org_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("org_users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # access | named
    name: Mapped[str | None] = mapped_column(String(100))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(Text, default="*")  # space-separated permissions or *
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    __table_args__ = (CheckConstraint("kind IN ('access', 'named')", name="kind"),)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class LoginFailure(Base):
    """One failed sign-in, keyed ``user:<name>`` and ``ip:<address>`` for throttling."""

    __tablename__ = "org_login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_org_login_failures_key_at", "key", "at"),)
