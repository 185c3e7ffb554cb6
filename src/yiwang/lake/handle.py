"""One ``core.lake.Lake`` per installation and process.

Opening a lake opens an Iceberg catalog engine on the platform database; the web process, the
background worker and the commands share one per (database, location) instead of opening one
per request.
"""

from __future__ import annotations

import threading

from yiwang.core.config import Settings
from yiwang.core.lake import Lake

_lakes: dict[tuple[str, str], Lake] = {}
_lock = threading.Lock()


def lake_for(settings: Settings) -> Lake:
    """The lake described by ``settings`` (opened on first use)."""
    key = (settings.db_url, settings.lake_location)
    with _lock:
        lake = _lakes.get(key)
        if lake is None:
            lake = _lakes[key] = Lake.from_settings(settings)
        return lake


def close_all() -> None:
    with _lock:
        for lake in _lakes.values():
            lake.close()
        _lakes.clear()
