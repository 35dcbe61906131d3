"""How people write times in chat, against a fixed now: Wednesday 2026-11-18 10:00 in Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.timeparse import TimeParseError, parse_range, parse_when, split_when

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=SH).astimezone(UTC)  # a Wednesday


def at(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30 14:00", at(2026, 11, 30, 14)),
        ("2026/11/30 14:00", at(2026, 11, 30, 14)),
        ("2026年11月30日 14:00", at(2026, 11, 30, 14)),
        ("2027-01-05 08:05", at(2027, 1, 5, 8, 5)),
        ("11月30日 14:00", at(2026, 11, 30, 14)),
        ("11月30日14:00", at(2026, 11, 30, 14)),
        ("11月30号 下午2点", at(2026, 11, 30, 14)),
        ("十一月三十日 下午两点半", at(2026, 11, 30, 14, 30)),
        ("11-30 14:00", at(2026, 11, 30, 14)),
        ("11/30 14:00", at(2026, 11, 30, 14)),
        ("今天 18:00", at(2026, 11, 18, 18)),
        ("今晚8点", at(2026, 11, 18, 20)),
        ("明天 15:00", at(2026, 11, 19, 15)),
        ("明天下午3点", at(2026, 11, 19, 15)),
        ("后天 9:00", at(2026, 11, 20, 9)),
        ("大后天 9:00", at(2026, 11, 21, 9)),
        ("下周三 9:30", at(2026, 11, 25, 9, 30)),
        ("下周一 8:00", at(2026, 11, 23, 8)),
        ("下星期日 8:00", at(2026, 11, 29, 8)),
        # a weekday alone: the next one (today when the time is still ahead)
        ("周三 9:30", at(2026, 11, 25, 9, 30)),
        ("周三 15:00", at(2026, 11, 18, 15)),
        ("星期三 9:30", at(2026, 11, 25, 9, 30)),
        ("礼拜五 19:00", at(2026, 11, 20, 19)),
        ("周日 10:00", at(2026, 11, 22, 10)),
        ("周一 10:00", at(2026, 11, 23, 10)),
        ("本周五 9:00", at(2026, 11, 20, 9)),
        ("10分钟后", at(2026, 11, 18, 10, 10)),
        ("2小时后", at(2026, 11, 18, 12)),
        ("半小时后", at(2026, 11, 18, 10, 30)),
        ("1个半小时后", at(2026, 11, 18, 11, 30)),
        ("3天后 9:00".replace(" 9:00", ""), at(2026, 11, 21, 10)),
        ("14:00", at(2026, 11, 18, 14)),
        ("9:05", at(2026, 11, 18, 9, 5)),
        ("１４：００", at(2026, 11, 18, 14)),
        ("明天　１５：３０", at(2026, 11, 19, 15, 30)),
        ("14点", at(2026, 11, 18, 14)),
        ("14点30", at(2026, 11, 18, 14, 30)),
        ("14点30分", at(2026, 11, 18, 14, 30)),
        ("14点半", at(2026, 11, 18, 14, 30)),
        ("下午3点", at(2026, 11, 18, 15)),
        ("晚上7点半", at(2026, 11, 18, 19, 30)),
        ("上午9点", at(2026, 11, 18, 9)),
        ("中午12点", at(2026, 11, 18, 12)),
        # no year and already behind us: next year
        ("3月1日 9:00", at(2027, 3, 1, 9)),
        ("1-5 9:00", at(2027, 1, 5, 9)),
        # today's date with a time already past stays today (the caller refuses the past)
        ("11月18日 9:00", at(2026, 11, 18, 9)),
    ],
)
def test_parse_when(text, expected):
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("明天", "no_time"),
        ("11月30日", "no_time"),
        ("随便什么时候", "unrecognised"),
        ("15", "unrecognised"),
        ("2月30日 9:00", "bad_date"),
        ("2026-13-01 9:00", "bad_date"),
        ("25:00", "bad_time"),
        ("明天 9:75", "bad_time"),
        ("0分钟后", "unrecognised"),
    ],
)
def test_parse_when_refuses(text, reason):
    with pytest.raises(TimeParseError) as info:
        parse_when(text, NOW)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_other_timezone():
    assert parse_when("14:00", NOW, "UTC") == datetime(2026, 11, 18, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("11月30日 14:00-16:00", at(2026, 11, 30, 14), at(2026, 11, 30, 16)),
        ("明天 14:00~16:00", at(2026, 11, 19, 14), at(2026, 11, 19, 16)),
        ("明天 14:00 至 16:00", at(2026, 11, 19, 14), at(2026, 11, 19, 16)),
        ("2026-11-30 14:00-16:30", at(2026, 11, 30, 14), at(2026, 11, 30, 16, 30)),
        ("11-30 14:00-16:00", at(2026, 11, 30, 14), at(2026, 11, 30, 16)),
        ("下周三 下午2点到4点", at(2026, 11, 25, 14), at(2026, 11, 25, 16)),
        ("11月30日 14:00 - 12月1日 12:00", at(2026, 11, 30, 14), at(2026, 12, 1, 12)),
        # an end before the start is returned as written: the caller says why it refuses
        ("明天 16:00-14:00", at(2026, 11, 19, 16), at(2026, 11, 19, 14)),
        ("明天 9:30-8:00", at(2026, 11, 19, 9, 30), at(2026, 11, 19, 8)),
    ],
)
def test_parse_range(text, start, end):
    assert parse_range(text, NOW) == (start, end)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("明天 14:00", "no_range"),
        ("明天-后天", "unrecognised"),
        ("", "empty"),
        ("哈哈", "unrecognised"),
    ],
)
def test_parse_range_refuses(text, reason):
    with pytest.raises(TimeParseError) as info:
        parse_range(text, NOW)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("text", "moment", "rest"),
    [
        ("今天 18:00 请大家按时参加", at(2026, 11, 18, 18), "请大家按时参加"),
        ("明天 9:00 学习 二十大 精神", at(2026, 11, 19, 9), "学习 二十大 精神"),
        ("14:00 开会", at(2026, 11, 18, 14), "开会"),
        ("下周三 9:30", at(2026, 11, 25, 9, 30), ""),
        ("2小时后 记得带党员证", at(2026, 11, 18, 12), "记得带党员证"),
        ("11月30号 下午2点 主题党日", at(2026, 11, 30, 14), "主题党日"),
    ],
)
def test_split_when(text, moment, rest):
    assert split_when(text, NOW) == (moment, rest)


@pytest.mark.parametrize(("text", "reason"), [("请大家按时参加", "unrecognised"), ("", "empty")])
def test_split_when_refuses(text, reason):
    with pytest.raises(TimeParseError) as info:
        split_when(text, NOW)
    assert info.value.reason == reason
