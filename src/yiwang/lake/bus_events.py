"""Bus events the lake publishes (higher domains, e.g. governance's lineage, subscribe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yiwang.core.bus import Event


@dataclass(frozen=True)
class TablesRead(Event):
    """Someone read lake tables (SQL console, ``yiwang lake sql``): lineage records who read what."""

    session: Any  # the publisher's session: subscribers write in its transaction
    actor: str
    tables: tuple[str, ...]
    department_ids: tuple[int, ...]
    purpose: str  # e.g. "lake.sql"
    query: str
    settings: Any = None  # the platform settings the read ran under
