"""LIANXIN_NOW 的时钟与“每天记一次联系”，不用数据库。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import Clock, ManualClock, ShiftedClock, clock_from_env, parse_now
from bot.seen import SeenToday


def test_lianxin_now_starts_the_clock_there_and_it_runs_on():
    assert type(clock_from_env({})) is Clock
    clock = clock_from_env({"LIANXIN_NOW": "2026-07-01T09:00:00+08:00"})
    assert isinstance(clock, ShiftedClock)
    start = datetime(2026, 7, 1, 1, tzinfo=UTC)
    assert timedelta(0) <= clock.now() - start < timedelta(seconds=5)
    # without an offset the time is read in the configured zone
    assert parse_now("2026-07-01T09:00").utcoffset() == timedelta(hours=8)
    assert parse_now("2026-07-01 09:00", "UTC").utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="LIANXIN_NOW: expected an ISO 8601 time"):
        parse_now("下周二")


def test_a_message_counts_as_contact_once_a_local_day():
    clock = ManualClock(datetime(2026, 11, 3, 15, 59, tzinfo=UTC))  # 23:59 in Beijing
    seen = SeenToday(clock.now)
    first = seen.note(7)
    assert first is not None
    first.close()  # the write itself needs a database; here only whether it is asked for
    assert seen.note(7) is None
    other = seen.note(8)
    assert other is not None
    other.close()
    clock.advance(minutes=2)  # 00:01 the next day in Beijing
    again = seen.note(7)
    assert again is not None
    again.close()
