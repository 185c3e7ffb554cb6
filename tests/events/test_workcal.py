"""Working calendar: holidays, 调休 days, office hours, warnings."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from yiwang.events.workcal import (
    SHANGHAI,
    Duration,
    HolidaySupplement,
    OfficeHours,
    TimeUnit,
    WarningLevel,
    WorkCalendar,
    YearNotCovered,
    deadline,
    warning_level,
)

CAL = WorkCalendar()


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# -- days ------------------------------------------------------------------------------
def test_national_day_2025_is_off_and_its_adjusted_days_are_worked():
    for day in range(1, 9):  # 国庆+中秋: 10月1日至8日放假
        assert not CAL.is_workday(date(2025, 10, day))
    assert CAL.is_workday(date(2025, 9, 28))  # Sunday, 调休上班
    assert CAL.is_workday(date(2025, 10, 11))  # Saturday, 调休上班
    assert not CAL.is_workday(date(2025, 10, 12))  # ordinary Sunday


def test_spring_festival_2026_with_adjusted_saturdays():
    for day in range(15, 24):  # 春节: 2月15日至23日放假
        assert not CAL.is_workday(date(2026, 2, day))
    assert date(2026, 2, 14).weekday() == 5 and CAL.is_workday(date(2026, 2, 14))
    assert date(2026, 2, 28).weekday() == 5 and CAL.is_workday(date(2026, 2, 28))


# -- adding durations ------------------------------------------------------------------
def test_natural_hours_ignore_holidays():
    start = at(2025, 10, 1, 20, 0)
    assert deadline(start, Duration(2, TimeUnit.NATURAL_HOURS)) == at(2025, 10, 1, 22, 0)


def test_working_hours_skip_lunch_break():
    # 11:00 + 2 working hours: 1 h before noon, 1 h after 13:30
    assert deadline(at(2025, 9, 29, 11), Duration(2, "working_hours")) == at(2025, 9, 29, 14, 30)


def test_working_hours_jump_over_national_day():
    start = at(2025, 9, 30, 16, 30)  # 1 h left that day, then 8 days off
    result = deadline(start, Duration(3, TimeUnit.WORKING_HOURS))
    assert result == at(2025, 10, 9, 11, 0)


def test_working_hours_use_adjusted_saturday_before_spring_festival():
    start = at(2026, 2, 13, 17, 0)  # Friday; Saturday 14th is a working day
    assert deadline(start, Duration(1, "working_hours")) == at(2026, 2, 14, 9, 30)


def test_start_outside_office_hours_counts_from_next_opening():
    start = at(2025, 10, 10, 20, 0)  # Friday evening; Saturday 11th is worked
    assert deadline(start, Duration(0.5, "working_hours")) == at(2025, 10, 11, 9, 30)


def test_working_days_do_not_count_the_start_day():
    # Received Tuesday morning before the holiday: one working day ends on 9 October.
    assert deadline(at(2025, 9, 30, 9, 5), Duration(1, "working_days")) == at(2025, 10, 9, 17, 30)
    # Three working days from the Friday 13 Feb 2026: Sat 14th, Tue 24th, Wed 25th.
    assert deadline(at(2026, 2, 13, 10), Duration(3, "working_days")) == at(2026, 2, 25, 17, 30)


def test_fractional_working_days_are_refused():
    with pytest.raises(ValueError, match="working_hours"):
        Duration(0.5, TimeUnit.WORKING_DAYS)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(datetime(2025, 9, 29, 10), Duration(1, "working_hours"))


def test_other_timezones_are_converted_to_shanghai():
    utc_start = datetime(2025, 9, 29, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    result = deadline(utc_start, Duration(3, "working_hours"))
    assert result == at(2025, 9, 29, 12, 0)
    assert result.utcoffset() == timedelta(hours=8)


def test_configurable_office_hours():
    cal = WorkCalendar(OfficeHours(((time(8, 30), time(12)), (time(14), time(18)))))
    assert cal.office_hours.hours_per_day == pytest.approx(7.5)
    assert cal.add(at(2025, 9, 29, 11), Duration(2, "working_hours")) == at(2025, 9, 29, 15, 0)
    with pytest.raises(ValueError):
        OfficeHours(((time(13), time(12)),))


# -- elapsed time and warnings ---------------------------------------------------------
def test_working_time_elapsed_over_a_holiday():
    cal = CAL
    start, end = at(2025, 9, 30, 9), at(2025, 10, 9, 10)
    assert cal.elapsed(start, end, "working_hours") == pytest.approx(7 + 1)
    assert cal.elapsed(start, end, "working_days") == pytest.approx(8 / 7)
    assert cal.elapsed(start, end, "natural_hours") == pytest.approx(9 * 24 + 1)
    assert cal.elapsed(end, start, "working_hours") == 0


def test_add_and_elapsed_are_inverse():
    start = at(2026, 2, 12, 15, 10)
    for hours in (0.25, 1, 3.5, 7, 20, 41.5):
        end = CAL.add(start, Duration(hours, "working_hours"))
        assert CAL.elapsed(start, end, "working_hours") == pytest.approx(hours)


def test_warning_levels_follow_the_share_of_allowed_time():
    start = at(2025, 9, 29, 9, 0)  # 4 working hours: deadline 14:30
    allowance = Duration(4, "working_hours")
    assert warning_level(start, at(2025, 9, 29, 11, 0), allowance) is WarningLevel.GREEN
    # 3.2 h (80%) used at 13:42
    assert warning_level(start, at(2025, 9, 29, 13, 42), allowance) is WarningLevel.YELLOW
    assert warning_level(start, at(2025, 9, 29, 14, 30), allowance) is WarningLevel.YELLOW
    assert warning_level(start, at(2025, 9, 29, 14, 31), allowance) is WarningLevel.RED


def test_warning_does_not_turn_yellow_over_a_holiday():
    start = at(2025, 9, 30, 16, 0)  # 1 working day: deadline 9 Oct 17:30
    allowance = Duration(1, "working_days")
    assert CAL.warning(start, at(2025, 10, 8, 23, 0), allowance) is WarningLevel.GREEN
    assert CAL.warning(start, at(2025, 10, 9, 16, 30), allowance) is WarningLevel.YELLOW
    assert CAL.warning(start, at(2025, 10, 10, 9, 0), allowance) is WarningLevel.RED


def test_custom_yellow_threshold():
    start, allowance = at(2025, 9, 29, 9), Duration(10, "natural_hours")
    now = start + timedelta(hours=6)
    assert CAL.warning(start, now, allowance) is WarningLevel.GREEN
    assert CAL.warning(start, now, allowance, yellow_at=0.5) is WarningLevel.YELLOW


# -- years without holiday data --------------------------------------------------------
def test_unknown_year_raises_by_default():
    with pytest.raises(YearNotCovered, match="unknown_years='weekends'"):
        CAL.is_workday(date(2099, 3, 2))


def test_unknown_year_can_fall_back_to_weekdays():
    cal = WorkCalendar(unknown_years="weekends")
    with pytest.warns(RuntimeWarning, match="2098"):
        assert cal.is_workday(date(2098, 3, 3))  # a Monday
    assert not cal.is_workday(date(2098, 3, 1))  # a Saturday
    # Friday 17:00 + 1 working hour lands on Monday 09:30
    assert cal.add(at(2098, 3, 7, 17, 0), Duration(1, "working_hours")) == at(2098, 3, 10, 9, 30)


def test_a_supplement_covers_a_year_chinesecalendar_does_not_know(tmp_path):
    notice = tmp_path / "holidays_2099.csv"
    notice.write_text(
        "date,kind\n2099-10-01,holiday\n2099-10-02,holiday\n2099-10-05,holiday\n2099-10-10,workday\n",
        encoding="utf-8",
    )
    cal = WorkCalendar(supplement=HolidaySupplement.from_csv(notice))
    assert date(2099, 10, 1).weekday() == 3  # a Thursday, but a holiday
    assert not cal.is_workday(date(2099, 10, 1))
    assert not cal.is_workday(date(2099, 10, 3))  # ordinary Saturday
    assert cal.is_workday(date(2099, 10, 10))  # adjusted Saturday
    assert cal.is_workday(date(2099, 10, 6))
    # 30 Sep 17:00 + 1 working hour: 1, 2 (holidays), 3, 4 (weekend), 5 (holiday) → 6th
    assert cal.add(at(2099, 9, 30, 17), Duration(1, "working_hours")) == at(2099, 10, 6, 9, 30)
    with pytest.raises(YearNotCovered):
        cal.is_workday(date(2098, 1, 5))  # the supplement does not cover 2098
    with pytest.raises(ValueError, match="holiday"):
        HolidaySupplement.from_rows([(date(2099, 1, 1), "festival")])
