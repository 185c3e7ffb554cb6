"""Shapes the catalog hands out (``*Public``) and takes in besides the entry spec itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProviderPublic(BaseModel):
    id: int
    key: str
    name: str
    credit_code: str


class ResourceSummary(BaseModel):
    """One row of a list or search result, as the caller may see it."""

    name: str
    code: str | None
    title: str
    status: str  # the working status for those who see drafts; "published" for everyone else
    view: str  # working | published
    provider: str
    provider_short: str
    department_id: int
    classification: str
    classification_name: str  # the 目 or 细目 itself
    classification_label: str  # the whole path, 类 › 项 › 目
    share_type: str
    open_type: str
    update_cycle: str
    items_count: int
    published_version: int | None
    updated_at: dt.datetime
    score: int | None = None


class MountPublic(BaseModel):
    mounted: bool
    tables: dict[str, str]
    mounted_at: dt.datetime | None


class LoadFactPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    loaded_at: dt.datetime
    recorded_by: str
    rules_version: int | None
    rules_applied: bool
    masking_applied: bool
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    detail: dict[str, Any] = Field(default_factory=dict)


class ResourcePublic(BaseModel):
    """An entry: its spec (working copy or a published version) and what the platform knows of it."""

    name: str
    code: str | None
    status: str
    view: str  # working | published
    version: int | None  # the published version shown, or the one the working copy builds on
    published_version: int | None
    revision: int
    provider: ProviderPublic
    classification_label: str
    spec: dict[str, Any]
    rules_version: int | None  # of the version shown, or (working copy) of the version in force
    published_at: dt.datetime | None
    review_note: str | None
    updated_at: dt.datetime
    updated_by: str
    mount: MountPublic
    latest_load: LoadFactPublic | None


class VersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: int
    title: str
    rules_version: int | None
    published_at: dt.datetime
    published_by: str
    note: str | None


class ChangePublic(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    version: int | None
    note: str | None
    diff: list[dict[str, Any]]


class RulesPublic(BaseModel):
    """Governance rules of a resource; ``rules['version']`` is the catalog's rules version as text."""

    name: str
    version: int
    rules: dict[str, Any]
    created_at: dt.datetime
    created_by: str


class ApplyResult(BaseModel):
    name: str
    action: str  # created | updated | unchanged
    status: str
    revision: int


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=1000)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class IndicatorPublic(BaseModel):
    key: str
    label: str
    numerator: int
    denominator: int
    value: float  # percent, one decimal
    target: float  # the plan's 2025 target, percent
    binding: bool  # 约束性 (binding) or 预期性 (expected)


class StatsPublic(BaseModel):
    published: int
    items: int
    personal_items: int
    sensitive_items: int
    departments: int
    by_status: dict[str, int]
    by_share_type: dict[str, int]
    by_open_type: dict[str, int]
    by_update_cycle: dict[str, int]
    by_department: list[dict[str, Any]]
    by_class: list[dict[str, Any]]
    indicators: list[IndicatorPublic]
