"""Bus events the catalog publishes, for higher domains that care (lake, governance, exchange)."""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.core.bus import Event


@dataclass(frozen=True)
class ResourcePublished(Event):
    """A new version of an entry was published; ``rules_version`` is None when it has no rules."""

    name: str
    version: int
    rules_version: int | None
