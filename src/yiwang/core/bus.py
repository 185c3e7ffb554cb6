"""Typed in-process events: lower domains publish, higher domains subscribe.

This is how information flows upward without imports (``iot`` publishes ``AlarmRaised``,
``events`` subscribes). Handlers run synchronously in the publisher's transaction when
they are given the session, so a failing handler rolls the whole write back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

E = TypeVar("E")
Handler = Callable[[Any], None]

_subscribers: dict[type, list[Handler]] = defaultdict(list)


@dataclass(frozen=True)
class Event:
    """Base class of bus events (frozen dataclasses)."""


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler not in _subscribers[event_type]:
        _subscribers[event_type].append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _subscribers.get(event_type, []):
        _subscribers[event_type].remove(handler)


def publish(event: Event) -> int:
    """Deliver to every subscriber of the event's class or a base class; returns deliveries."""
    delivered = 0
    for cls in type(event).__mro__:
        for handler in list(_subscribers.get(cls, ())):
            handler(event)
            delivered += 1
    return delivered
