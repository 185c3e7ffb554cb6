"""Working calendar for case deadlines (SLA timers) of the event center.

Deadlines are counted in one of three units:

- ``natural_hours``: wall-clock hours, used for emergencies (燃气泄漏, 路面塌陷).
- ``working_hours``: hours inside the office periods of working days
  (default 09:00–12:00 and 13:30–17:30, configurable).
- ``working_days``: whole working days. The day the case starts is not counted
  (民法典 第二百零一条: "开始的当日不计入"), and the deadline is the end of the last office
  period of the N-th working day after it. Fractions of a working day are refused:
  express them in working hours instead.

Working days come from ``chinesecalendar`` (``is_workday``), which knows public holidays
and the adjusted working Saturdays/Sundays (调休). That package only covers the years whose
official holiday notice has been published (2004–2026 in version 1.11). For any other year
the calendar either raises :class:`YearNotCovered` (the default, ``unknown_years="raise"``)
or, with ``unknown_years="weekends"``, falls back to Monday–Friday with a warning, so a
deadline can still be given while the State Council notice is awaited. Once the notice is
out, its days can be loaded as a :class:`HolidaySupplement` (a small CSV) without waiting
for a new chinesecalendar release; a supplement takes precedence for the years it lists.

All instants are timezone-aware; they are converted to Asia/Shanghai and results are
returned in Asia/Shanghai.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_SCAN_DAYS = 1000  # guards against configurations with no working time at all


class TimeUnit(StrEnum):
    """Unit in which an SLA duration is counted."""

    NATURAL_HOURS = "natural_hours"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"

    @property
    def label(self) -> str:
        return {"natural_hours": "小时", "working_hours": "工作时", "working_days": "工作日"}[self.value]


class WarningLevel(StrEnum):
    """Traffic-light state of a running deadline (绿灯/黄灯/红灯)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class YearNotCovered(LookupError):
    """The holiday calendar has no data for this year, and fallback is off."""


@dataclass(frozen=True)
class Duration:
    """An SLA time allowance, e.g. ``Duration(4, TimeUnit.WORKING_HOURS)``."""

    value: float
    unit: TimeUnit

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", TimeUnit(self.unit))
        if self.value < 0:
            raise ValueError(f"duration must not be negative: {self.value}")
        if self.unit is TimeUnit.WORKING_DAYS and float(self.value) != int(self.value):
            raise ValueError("working_days must be a whole number; give fractions in working_hours")

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit.label}"


@dataclass(frozen=True)
class OfficeHours:
    """The office periods of one working day, in local time, sorted and disjoint."""

    periods: tuple[tuple[time, time], ...] = (
        (time(9, 0), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )

    def __post_init__(self) -> None:
        if not self.periods:
            raise ValueError("office hours need at least one period")
        previous_end = time.min
        for start, end in self.periods:
            if not previous_end <= start < end:
                raise ValueError(f"office periods must be sorted and disjoint: {self.periods}")
            previous_end = end

    @property
    def hours_per_day(self) -> float:
        return (
            sum(
                (datetime.combine(date.min, e) - datetime.combine(date.min, s)).total_seconds() for s, e in self.periods
            )
            / 3600
        )


@dataclass(frozen=True)
class HolidaySupplement:
    """Official holiday arrangement for years chinesecalendar does not know yet.

    For each year in ``years``: Monday–Friday are working days except ``holidays``, and
    ``workdays`` (调休 weekends) are working days too.
    """

    years: frozenset[int]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[date, str]]) -> HolidaySupplement:
        """Rows of (day, kind) with kind ``holiday`` or ``workday``."""
        holidays: set[date] = set()
        workdays: set[date] = set()
        for day, kind in rows:
            if kind not in ("holiday", "workday"):
                raise ValueError(f"kind must be 'holiday' or 'workday': {kind!r}")
            (holidays if kind == "holiday" else workdays).add(day)
        years = frozenset(d.year for d in holidays | workdays)
        return cls(years, frozenset(holidays), frozenset(workdays))

    @classmethod
    def from_csv(cls, path: Path) -> HolidaySupplement:
        """CSV with columns ``date`` (YYYY-MM-DD) and ``kind`` (holiday/workday)."""
        with path.open(encoding="utf-8", newline="") as fh:
            return cls.from_rows((date.fromisoformat(r["date"]), r["kind"].strip()) for r in csv.DictReader(fh))

    def is_workday(self, day: date) -> bool:
        return day in self.workdays or (day.weekday() < 5 and day not in self.holidays)


def _local(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"datetime must be timezone-aware: {instant!r}")
    return instant.astimezone(SHANGHAI)


class WorkCalendar:
    """Chinese government working calendar: holidays, 调休 days and office hours."""

    def __init__(
        self,
        office_hours: OfficeHours | None = None,
        *,
        unknown_years: Literal["raise", "weekends"] = "raise",
        supplement: HolidaySupplement | None = None,
    ) -> None:
        if unknown_years not in ("raise", "weekends"):
            raise ValueError(f"unknown_years must be 'raise' or 'weekends': {unknown_years!r}")
        self.office_hours = office_hours or OfficeHours()
        self.unknown_years = unknown_years
        self.supplement = supplement
        self._workdays: dict[date, bool] = {}

    # -- days -------------------------------------------------------------------------
    def is_workday(self, day: date) -> bool:
        """True on a working day (including adjusted working weekends)."""
        if day not in self._workdays:
            self._workdays[day] = self._lookup(day)
        return self._workdays[day]

    def _lookup(self, day: date) -> bool:
        if self.supplement and day.year in self.supplement.years:
            return self.supplement.is_workday(day)
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError as exc:
            if self.unknown_years == "raise":
                raise YearNotCovered(
                    f"chinesecalendar {getattr(chinese_calendar, '__version__', '')} has no "
                    f"holiday data for {day.year}; upgrade it, load the State Council notice "
                    "as a HolidaySupplement, or use WorkCalendar(unknown_years='weekends') "
                    "to count Monday–Friday"
                ) from exc
            _warn_fallback(day.year)
            return day.weekday() < 5

    def _periods(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        if self.is_workday(day):
            for start, end in self.office_hours.periods:
                yield (
                    datetime.combine(day, start, tzinfo=SHANGHAI),
                    datetime.combine(day, end, tzinfo=SHANGHAI),
                )

    def _days_from(self, day: date) -> Iterator[date]:
        for offset in range(MAX_SCAN_DAYS):
            yield day + timedelta(days=offset)
        raise RuntimeError(f"no working time found within {MAX_SCAN_DAYS} days of {day}")

    # -- deadlines --------------------------------------------------------------------
    def add(self, start: datetime, duration: Duration) -> datetime:
        """The deadline reached by counting ``duration`` from ``start``."""
        start = _local(start)
        if duration.unit is TimeUnit.NATURAL_HOURS:
            return start + timedelta(hours=duration.value)
        if duration.unit is TimeUnit.WORKING_HOURS:
            return self._add_working(start, timedelta(hours=duration.value))
        return self._add_working_days(start, int(duration.value))

    def _add_working(self, start: datetime, remaining: timedelta) -> datetime:
        if remaining <= timedelta(0):
            return start
        for day in self._days_from(start.date()):
            for period_start, period_end in self._periods(day):
                begin = max(period_start, start)
                if begin >= period_end:
                    continue
                if remaining <= period_end - begin:
                    return begin + remaining
                remaining -= period_end - begin
        raise AssertionError("unreachable")  # _days_from raises first

    def _add_working_days(self, start: datetime, days: int) -> datetime:
        if days == 0:
            return start
        counted = 0
        for day in self._days_from(start.date() + timedelta(days=1)):
            if self.is_workday(day):
                counted += 1
                if counted == days:
                    last_end = self.office_hours.periods[-1][1]
                    return datetime.combine(day, last_end, tzinfo=SHANGHAI)
        raise AssertionError("unreachable")

    # -- elapsed time and warnings ----------------------------------------------------
    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Office time on working days between two instants (zero if end <= start)."""
        start, end = _local(start), _local(end)
        total = timedelta(0)
        day = start.date()
        while day <= end.date():
            for period_start, period_end in self._periods(day):
                overlap = min(period_end, end) - max(period_start, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def elapsed(self, start: datetime, end: datetime, unit: TimeUnit | str) -> float:
        """Time between two instants in ``unit``; working days = working hours / day length."""
        unit = TimeUnit(unit)
        if unit is TimeUnit.NATURAL_HOURS:
            seconds = (_local(end) - _local(start)).total_seconds()
            return max(seconds, 0.0) / 3600
        hours = self.working_time(start, end).total_seconds() / 3600
        if unit is TimeUnit.WORKING_HOURS:
            return hours
        return hours / self.office_hours.hours_per_day

    def progress(self, start: datetime, now: datetime, duration: Duration) -> float:
        """Share of the allowance used at ``now`` (1.0 = at the deadline, > 1 overdue).

        Natural-hour allowances are measured in wall-clock time, the others in office time,
        so a case does not turn yellow over a weekend.
        """
        unit = TimeUnit.NATURAL_HOURS if duration.unit is TimeUnit.NATURAL_HOURS else TimeUnit.WORKING_HOURS
        allowed = self.elapsed(start, self.add(start, duration), unit)
        used = self.elapsed(start, now, unit)
        if allowed <= 0:
            return 1.0 if used > 0 else 0.0
        return used / allowed

    def warning(self, start: datetime, now: datetime, duration: Duration, *, yellow_at: float = 0.8) -> WarningLevel:
        """Green under ``yellow_at`` of the allowance, yellow until the deadline, red after."""
        if _local(now) > self.add(start, duration):
            return WarningLevel.RED
        if self.progress(start, now, duration) >= yellow_at:
            return WarningLevel.YELLOW
        return WarningLevel.GREEN


@cache
def _warn_fallback(year: int) -> None:
    warnings.warn(
        f"no holiday data for {year}: counting Monday–Friday as working days",
        RuntimeWarning,
        stacklevel=4,
    )


DEFAULT_CALENDAR = WorkCalendar()


def deadline(start: datetime, duration: Duration) -> datetime:
    """Deadline on the default calendar (office hours 09:00–12:00, 13:30–17:30)."""
    return DEFAULT_CALENDAR.add(start, duration)


def warning_level(start: datetime, now: datetime, duration: Duration, *, yellow_at: float = 0.8) -> WarningLevel:
    """Warning light on the default calendar."""
    return DEFAULT_CALENDAR.warning(start, now, duration, yellow_at=yellow_at)
