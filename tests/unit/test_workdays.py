"""工作日算法（models/workdays.py）：没有数据库，按国务院公布的 2026 年安排。"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from models.workdays import (
    TZ,
    Limit,
    add_working,
    due,
    is_workday,
    parse_limit,
    remind_from,
    resume_due,
    working_seconds,
)


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        (72, Limit(72)),
        ("48", Limit(48)),
        ("24小时", Limit(24)),
        ("3工作日", Limit(3, workdays=True)),
        (" 5 个工作日 ", Limit(5, workdays=True)),
        ("2天", Limit(48)),
    ],
)
def test_parse_limit(value, limit):
    assert parse_limit(value) == limit


@pytest.mark.parametrize("value", ["", "三天", "0工作日", "-3", "3周", True])
def test_parse_limit_refuses(value):
    with pytest.raises(ValueError):
        parse_limit(value)


def test_official_calendar_2026():
    assert not is_workday(date(2026, 10, 1))  # 国庆节
    assert not is_workday(date(2026, 10, 7))  # still the holiday, a Wednesday
    assert is_workday(date(2026, 10, 10))  # Saturday, 调休 make-up day
    assert is_workday(date(2026, 2, 14))  # Saturday before the Spring Festival
    assert not is_workday(date(2026, 2, 16))  # Monday in the Spring Festival
    assert is_workday(date(2026, 12, 1)) and not is_workday(date(2026, 12, 5))


def test_unknown_year_falls_back_to_monday_friday_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="lianxin.workdays"):
        assert is_workday(date(2099, 1, 2))  # a Friday
        assert not is_workday(date(2099, 1, 3))  # a Saturday
        assert is_workday(date(2099, 1, 5))
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1 and "Monday-Friday" in warnings[0].getMessage()


def test_working_days_skip_weekend():
    # Friday 10:00 + 3 working days = Wednesday 10:00
    assert due(bj(2026, 12, 4, 10), "3工作日") == bj(2026, 12, 9, 10).astimezone(UTC)
    # filed on a Saturday: the clock starts on Monday 00:00
    assert due(bj(2026, 12, 5, 15), "1工作日") == bj(2026, 12, 8).astimezone(UTC)


def test_working_days_skip_national_day_and_count_make_up_saturday():
    # Tuesday 29 September 10:00 + 3 working days: 30 Sep, (1–7 Oct holiday), 8 Oct, 9 Oct
    assert due(bj(2026, 9, 29, 10), "3工作日") == bj(2026, 10, 9, 10).astimezone(UTC)
    # Friday 9 October + 1 working day lands on Saturday 10 October (调休)
    assert due(bj(2026, 10, 9, 9), "1工作日") == bj(2026, 10, 10, 9).astimezone(UTC)


def test_hours_are_wall_clock():
    start = bj(2026, 9, 30, 20)
    assert due(start, 72) == start + timedelta(hours=72)


def test_working_seconds_inverse_of_add():
    start = bj(2026, 9, 29, 16, 30)
    for hours in (1, 8, 30, 75):
        end = add_working(start, hours * 3600)
        assert working_seconds(start, end) == hours * 3600
    # the whole National Day holiday is no working time at all
    assert working_seconds(bj(2026, 10, 1), bj(2026, 10, 8)) == 0
    assert working_seconds(bj(2026, 10, 8), bj(2026, 10, 1)) == -0.0


def test_resume_keeps_working_time_left():
    filed = bj(2026, 12, 1, 9)  # Tuesday
    due_at = due(filed, "3工作日")  # Friday 4 Dec 09:00
    paused = bj(2026, 12, 2, 9)  # two working days left
    resumed = bj(2026, 12, 4, 18)  # Friday evening
    # two working days from Friday 18:00: Monday 18:00
    assert resume_due(due_at, paused, resumed, True) == bj(2026, 12, 8, 18).astimezone(UTC)


def test_resume_in_hours_adds_the_pause():
    filed = bj(2026, 12, 1, 9)
    due_at = due(filed, 48)
    paused, resumed = bj(2026, 12, 1, 12), bj(2026, 12, 1, 15)
    assert resume_due(due_at, paused, resumed, False) == due_at + timedelta(hours=3)


def test_overdue_before_the_pause_stays_overdue():
    due_at = bj(2026, 12, 1, 9).astimezone(UTC)
    paused, resumed = bj(2026, 12, 2, 9), bj(2026, 12, 3, 9)
    assert resume_due(due_at, paused, resumed, True) == due_at


def test_reminder_lead_counts_working_time_for_working_day_limits():
    friday_evening = bj(2026, 12, 4, 20)
    # 12 working hours from Friday 20:00 reach Monday 08:00
    assert remind_from(friday_evening, 12, True) == bj(2026, 12, 7, 8).astimezone(UTC)
    assert remind_from(friday_evening, 12, False) == bj(2026, 12, 5, 8)
