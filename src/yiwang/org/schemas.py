"""Pydantic shapes of the org domain's API (``XCreate`` / ``XUpdate`` / ``XPublic``)."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

USERNAME_RE = re.compile(r"^[a-zA-Z0-9_.@-]{3,150}$")


class RegionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    level: str
    parent_code: str | None
    lng: float | None = None
    lat: float | None = None


class DepartmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    key: str
    name: str
    short_name: str
    credit_code: str
    kind: str
    parent_id: int | None


class UserPublic(BaseModel):
    """A user as other staff see it: personal data masked."""

    id: int
    username: str
    display_name: str
    kind: str
    roles: list[str]
    department_id: int | None
    department: str | None
    region_code: str | None
    region: str | None
    phone_masked: str | None
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class UserPersonal(BaseModel):
    """Unmasked personal data, returned only with a declared reason (and audited)."""

    id: int
    username: str
    display_name: str
    phone: str | None
    id_number: str | None
    email: str | None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=150)
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
    kind: str = Field("staff", pattern="^(staff|citizen|enterprise)$")
    roles: list[str] = Field(default_factory=list, max_length=10)
    department_key: str | None = Field(None, max_length=50)
    region_code: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=20)
    id_number: str | None = Field(None, max_length=18)
    credit_code: str | None = Field(None, max_length=18)
    email: str | None = Field(None, max_length=200)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not USERNAME_RE.match(v):
            raise ValueError("letters, digits and _ . @ - only, 3 to 150 characters")
        return v


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(None, min_length=1, max_length=100)
    roles: list[str] | None = Field(None, max_length=10)
    department_key: str | None = Field(None, max_length=50)
    region_code: str | None = Field(None, max_length=20)
    phone: str | None = Field(None, max_length=20)
    email: str | None = Field(None, max_length=200)
    is_active: bool | None = None


class MePublic(BaseModel):
    username: str
    display_name: str
    kind: str
    roles: list[str]
    role_labels: list[str]
    permissions: list[str]
    department: DepartmentPublic | None
    region: RegionPublic | None
    scope: str
    auth_method: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class NamedTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(default_factory=lambda: ["*"], max_length=50)
    expires_in_days: int | None = Field(90, ge=1, le=3650)


class NamedTokenPublic(BaseModel):
    id: int
    name: str | None
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NamedTokenCreated(NamedTokenPublic):
    token: str = Field(description="Shown once; only its SM3 digest is stored.")


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ts: dt.datetime
    actor_username: str | None
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    ip: str | None
    reason: str | None
    detail: str
    hash: str
