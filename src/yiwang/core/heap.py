"""Short garbage-collector pauses in the web processes.

A web worker holds hundreds of thousands of long-lived container objects after start-up (modules,
SQLAlchemy, pydantic and FastAPI metadata, the triage model). CPython's full collection walks every
one of them with the GIL held, and under load it ran every few seconds, stalling every request in
flight of that process and doubling the intake p99 whenever one landed in a run (the figures are in
README's event center benchmark).

``freeze()`` moves what exists into the permanent generation (``gc.freeze``), so later
collections walk only the objects made since. Frozen objects are still freed by reference
counting; only cycles among them are never reclaimed, which is why it runs at start-up and
when a process loads a new long-lived structure (a model version) — not per request — and
why each call first unfreezes and collects, so a replaced model's cycles are reclaimed once.

Only serving processes opt in (``enable()``, called by ``yiwang.app.app_from_env``): a test
session building hundreds of short-lived apps must keep collecting them.
"""

from __future__ import annotations

import gc
import threading

_enabled = [False]
_lock = threading.Lock()


def enable() -> None:
    _enabled[0] = True


def freeze() -> int:
    """Collect once, then freeze everything alive; returns the number of frozen objects (0 when not enabled)."""
    if not _enabled[0]:
        return 0
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        return gc.get_freeze_count()
