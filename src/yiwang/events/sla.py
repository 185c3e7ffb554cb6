"""Deadlines of each case step, on the Chinese working calendar.

The platform's calendar counts holidays and 调休 days from ``chinesecalendar``. That package
knows years up to its release (2026 for 1.11); deadlines that run into a later year count
Monday–Friday with a logged warning (``YIWANG_EVENTS_UNKNOWN_YEARS=weekends``, the default)
until the State Council's notice is loaded as a holiday supplement: the reference pack's
``event_holidays.csv`` (columns ``date,kind`` with kind ``holiday`` or ``workday``), or the
file named by ``YIWANG_EVENTS_HOLIDAY_SUPPLEMENT``.

Every step has an allowance: dispatching (command center), responding and handling (the
category's SLA), verifying on site. A step turns yellow when 80 % of it is used and red at
its deadline; it escalates once at the deadline and again when it is overdue by a whole
further allowance.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import structlog

from yiwang.events.settings import get_events_settings
from yiwang.events.triage.taxonomy import DATA_DIR, Category
from yiwang.events.workcal import Duration, HolidaySupplement, TimeUnit, WorkCalendar

log = structlog.get_logger("yiwang.events.sla")
YELLOW_SHARE = 0.8
DISPATCH_ALLOWANCE = Duration(2, TimeUnit.WORKING_HOURS)
VERIFY_ALLOWANCE = Duration(4, TimeUnit.WORKING_HOURS)
HOLIDAYS_CSV = DATA_DIR / "event_holidays.csv"


class _LoggedCalendar(WorkCalendar):
    """The work calendar, turning the fallback warning for unknown years into a log line."""

    def _lookup(self, day: dt.date) -> bool:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = super()._lookup(day)
        if caught:
            _log_fallback(day.year)
        return result


@cache
def _log_fallback(year: int) -> None:
    log.warning(
        "no official holiday data for this year: counting Monday-Friday as working days; "
        "load the State Council notice into event_holidays.csv",
        year=year,
    )


@cache
def calendar() -> WorkCalendar:
    settings = get_events_settings()
    path = Path(settings.holiday_supplement) if settings.holiday_supplement else HOLIDAYS_CSV
    supplement = HolidaySupplement.from_csv(path) if path.is_file() else None
    if supplement is not None and not supplement.years:
        supplement = None
    return _LoggedCalendar(unknown_years=settings.unknown_years, supplement=supplement)


@dataclass(frozen=True)
class Step:
    """A running step: when it started, when it turns yellow, when it is due."""

    started_at: dt.datetime
    yellow_at: dt.datetime
    due_at: dt.datetime

    @property
    def second_escalation_at(self) -> dt.datetime:
        return self.due_at + (self.due_at - self.started_at)


def _scaled(duration: Duration, share: float) -> Duration:
    if duration.unit is TimeUnit.WORKING_DAYS:
        hours = duration.value * calendar().office_hours.hours_per_day
        return Duration(hours * share, TimeUnit.WORKING_HOURS)
    return Duration(duration.value * share, duration.unit)


def step(start: dt.datetime, allowance: Duration) -> Step:
    cal = calendar()
    due = cal.add(start, allowance).astimezone(dt.UTC)
    if allowance.unit is TimeUnit.WORKING_DAYS:
        # Yellow at 80 % of the office time up to the deadline (working days end at 17:30).
        hours = cal.elapsed(start, due, TimeUnit.WORKING_HOURS)
        yellow = cal.add(start, Duration(hours * YELLOW_SHARE, TimeUnit.WORKING_HOURS))
    else:
        yellow = cal.add(start, _scaled(allowance, YELLOW_SHARE))
    return Step(start, yellow.astimezone(dt.UTC), due)


def dispatch_step(start: dt.datetime) -> Step:
    return step(start, DISPATCH_ALLOWANCE)


def response_step(start: dt.datetime, category: Category) -> Step:
    return step(start, category.response)


def handling_step(start: dt.datetime, category: Category) -> Step:
    return step(start, category.handling)


def verify_step(start: dt.datetime) -> Step:
    return step(start, VERIFY_ALLOWANCE)


def level_at(s: Step, now: dt.datetime) -> tuple[str, int]:
    """(warning light, escalation level) of a step at ``now``."""
    if now >= s.second_escalation_at:
        return "red", 2
    if now >= s.due_at:
        return "red", 1
    if now >= s.yellow_at:
        return "yellow", 0
    return "green", 0


def next_check(s: Step, now: dt.datetime) -> dt.datetime | None:
    """When the light of this step changes next (None once fully escalated)."""
    for moment in (s.yellow_at, s.due_at, s.second_escalation_at):
        if moment > now:
            return moment
    return None
