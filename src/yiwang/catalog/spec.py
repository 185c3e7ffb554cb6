"""A catalog entry as a document: the core metadata of the 2017 《政务信息资源目录编制指南（试行）》.

The spec is the one shape that officers edit in the form, that ``yiwang catalog apply`` reads
from YAML, that every published version freezes and that the change history diffs. These
models check single fields only; rules across fields are in ``checks`` and rules that need the
database (provider, classification, related resources) in ``service``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9_]{1,49}$"
CLASSIFICATION_PATTERN = r"^[1-9][0-9]{5}[0-9]{0,6}$"  # 类(1) 项(2) 目(3) [细目(≤6)]

ShareType = Literal["unconditional", "conditional", "none"]  # 无条件共享 / 有条件共享 / 不予共享
OpenType = Literal["open", "conditional", "closed"]  # 开放 / 有条件开放 / 不予开放
UpdateCycle = Literal[
    "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "half_yearly", "yearly", "irregular"
]
FormatType = Literal["file", "spreadsheet", "database", "image", "stream", "self_describing", "api"]
ShareMethod = Literal["api", "table_exchange", "file", "verification"]
DataType = Literal["string", "integer", "decimal", "date", "datetime", "boolean", "text", "binary"]
Sensitivity = Literal["L1", "L2", "L3", "L4"]

SHARE_TYPES: tuple[str, ...] = get_args(ShareType)
OPEN_TYPES: tuple[str, ...] = get_args(OpenType)
UPDATE_CYCLES: tuple[str, ...] = get_args(UpdateCycle)
FORMAT_TYPES: tuple[str, ...] = get_args(FormatType)
SHARE_METHODS: tuple[str, ...] = get_args(ShareMethod)
DATA_TYPES: tuple[str, ...] = get_args(DataType)
SENSITIVITIES: tuple[str, ...] = get_args(Sensitivity)

MAX_ITEMS = 300
MAX_RELATED = 20


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)


class ItemSpec(_Doc):
    """One information item (信息项): a column of the resource."""

    name: str = Field(min_length=1, max_length=60)
    type: DataType = "string"
    description: str = Field("", max_length=500)
    sensitivity: Sensitivity = "L1"
    personal: bool = False


class FormatSpec(_Doc):
    """信息资源格式: the guide's format class, and the concrete format (e.g. ``PostgreSQL``, ``xlsx``)."""

    type: FormatType
    detail: str = Field("", max_length=200)


class ShareSpec(_Doc):
    """共享属性: type, the conditions of conditional sharing (or the basis for not sharing), methods."""

    type: ShareType
    conditions: str = Field("", max_length=1000)
    methods: list[ShareMethod] = Field(default_factory=list, max_length=len(SHARE_METHODS))


class OpenSpec(_Doc):
    """开放属性: whether and on what conditions the resource is opened to the public."""

    type: OpenType = "closed"
    conditions: str = Field("", max_length=1000)


class EntrySpec(_Doc):
    """Everything an entry declares; ``rules`` are the governance rules (checked by a hook)."""

    name: str = Field(pattern=NAME_PATTERN, description="short slug used by commands and APIs")
    title: str = Field(min_length=2, max_length=100)
    classification: str = Field(pattern=CLASSIFICATION_PATTERN, max_length=12)
    provider: str = Field(min_length=1, max_length=50, description="key of the provider department")
    abstract: str = Field(min_length=10, max_length=2000)
    format: FormatSpec
    items: list[ItemSpec] = Field(min_length=1, max_length=MAX_ITEMS)
    share: ShareSpec
    open: OpenSpec = Field(default_factory=OpenSpec)
    update_cycle: UpdateCycle
    publish_date: dt.date | None = None
    related: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=MAX_RELATED)
    rules: dict[str, Any] | None = None

    def to_doc(self) -> dict[str, Any]:
        """The JSON form stored, versioned and diffed (dates as ISO strings, no empty rules)."""
        return self.model_dump(mode="json", exclude_none=True)
