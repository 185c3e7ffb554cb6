"""Notifications: in-app notices (stored) and outgoing SMS / e-mail through a Sender.

The default sender only logs (with the phone number masked): a city plugs in its SMS
gateway by naming a class with ``YIWANG_EVENTS_SENDER=package.module:ClassName`` whose
``send(channel, to, subject, body)`` delivers the message.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import ClassVar, Protocol

import structlog
from sqlalchemy.orm import Session

from yiwang.core.masking import mask_phone
from yiwang.events.models import Notification
from yiwang.events.settings import get_events_settings

log = structlog.get_logger("yiwang.events.notify")


class Sender(Protocol):
    def send(self, channel: str, to: str, subject: str, body: str) -> None: ...


class LoggingSender:
    """Writes each message to the log instead of sending it (the default)."""

    sent: ClassVar[list[tuple[str, str, str, str]]] = []

    def send(self, channel: str, to: str, subject: str, body: str) -> None:
        shown = mask_phone(to) if channel == "sms" else to
        log.info("notification", channel=channel, to=shown, subject=subject, body=body[:200])
        self.sent.append((channel, shown or "", subject, body))
        del self.sent[:-100]


@cache
def sender() -> Sender:
    name = get_events_settings().sender
    if name == "logging":
        return LoggingSender()
    module, _sep, cls = name.partition(":")
    return getattr(importlib.import_module(module), cls)()


def notify(
    session: Session,
    *,
    case_id: int | None,
    kind: str,
    message: str,
    user_id: int | None = None,
    department_id: int | None = None,
    role: str | None = None,
) -> None:
    session.add(
        Notification(
            case_id=case_id, kind=kind, message=message[:500], user_id=user_id, department_id=department_id, role=role
        )
    )


def tell_reporter(phone: str | None, subject: str, body: str) -> None:
    """SMS to a reporter who left a phone number (after the transaction commits)."""
    if phone:
        try:
            sender().send("sms", phone, subject, body)
        except Exception as exc:
            log.warning("sms failed", error=str(exc)[:200])
