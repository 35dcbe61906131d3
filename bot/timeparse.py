"""时间解析：人们在聊天里怎么写时间，就怎么认（“明天 15:00”“下周三 9:30”“11月30日 下午2点”）。

Pure functions: the caller passes `now` (aware) and the zone the words are meant in
(config.bot.timezone, Asia/Shanghai); results are aware datetimes in UTC.

* `parse_when(text, now, tz)` → one moment.
* `parse_range(text, now, tz)` → (start, end): "11月30日 14:00-16:00", "明天 14:00~16:00",
  "… 14:00 至 16:00"; the end may carry its own date.
* `split_when(text, now, tz)` → (moment, rest): the longest leading run of
  whitespace-separated words that is a time, and the text after it.

Failures raise `TimeParseError(reason)` (a ValueError); `reason` is one of REASONS and
the handlers turn it into a sentence (templates/zh_CN/refused.j2, code "time_unparsed").
A date written without a year that is already behind us (before today) means next
year's. A time without a date means today; a weekday alone means the next such day
(today when the time is still ahead).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import DEFAULT_ZONE
from bot.text import fold_width

DEFAULT_TZ = DEFAULT_ZONE  # the config default; callers pass [bot] timezone
# empty: nothing written · unrecognised: not a time we know · no_time: a day without the
# hour · bad_date: no such day (2月30日) · bad_time: no such hour (25:00)
# · no_range: a range needs a start and an end ("14:00-16:00")
REASONS = ("empty", "unrecognised", "no_time", "bad_date", "bad_time", "no_range")


class TimeParseError(ValueError):
    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.text = text


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_NUM = r"[0-9零〇一二两三四五六七八九十]+"


def _number(text: str) -> int:
    """ "14" / "十四" / "二十" / "两" → int (Chinese numerals up to 99)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        t = _CN_DIGITS[tens] if tens else 1
        o = _CN_DIGITS[ones] if ones else 0
        return t * 10 + o
    value = 0
    for ch in text:
        value = value * 10 + _CN_DIGITS[ch]
    return value


def _normalise(text: str) -> str:
    t = fold_width(text or "").strip()
    t = t.replace("点钟", "点").replace("钟头", "小时")
    return re.sub(r"\s+", " ", t)


_RELATIVE = re.compile(
    rf"^(?:(?P<half>半)|(?P<n>{_NUM}|\d+\.\d+)\s*个?(?P<andhalf>半)?)\s*"
    r"(?P<unit>分钟|分|小时|天|周|星期)\s*(?:以后|之后|后)$"
)
_ISO_DATE = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?"
)
_CN_DATE = re.compile(rf"^(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]")
_MD_DATE = re.compile(r"^(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})(?![\d:])")
_DAY_WORD = re.compile(r"^(?P<w>今天|今日|今晚|明天|明日|明晚|后天|大后天)")
_WEEK_WORD = re.compile(
    r"^(?P<which>下下|下|本|这|这个|下个)?\s*(?:周|星期|礼拜)(?P<d>[一二三四五六日天1-7])"
)
_PERIOD_WORDS = ("凌晨", "早上", "早晨", "上午", "中午", "下午", "傍晚", "晚上", "夜里", "晚")
_PERIOD = rf"(?P<period>{'|'.join(_PERIOD_WORDS)})?\s*"
_CLOCK = re.compile(rf"^{_PERIOD}(?P<h>\d{{1,2}})\s*:\s*(?P<mi>\d{{2}})$")
_CN_CLOCK = re.compile(
    rf"^{_PERIOD}(?P<h>{_NUM})\s*[点时]\s*(?:(?P<half>半)|(?P<mi>{_NUM})\s*分?)?$"
)
_DAY_OFFSET = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明晚": 1}
_DAY_OFFSET |= {"后天": 2, "大后天": 3}


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _relative(t: str, now: datetime) -> datetime | None:
    m = _RELATIVE.match(t)
    if not m:
        return None
    if m["half"]:
        amount = 0.5
    else:
        raw = m["n"]
        amount = float(raw) if "." in raw else float(_number(raw))
        if m["andhalf"]:
            amount += 0.5
    unit = m["unit"]
    seconds = {"分钟": 60, "分": 60, "小时": 3600, "天": 86400, "周": 604800, "星期": 604800}
    if amount <= 0:
        raise TimeParseError("unrecognised", t)
    return (now + timedelta(seconds=amount * seconds[unit])).astimezone(UTC)


def _date_part(t: str, today: date) -> tuple[date | None, str, bool, str | None]:
    """(the day, the rest, whether the year was written, weekday-word kind) for a leading date."""
    m = _ISO_DATE.match(t)
    if m:
        return _mkdate(int(m["y"]), int(m["m"]), int(m["d"])), t[m.end() :], True, None
    for pattern in (_CN_DATE, _MD_DATE):
        m = pattern.match(t)
        if m:
            return (
                _mkdate(today.year, _number(m["m"]), _number(m["d"])),
                t[m.end() :],
                False,
                None,
            )
    m = _DAY_WORD.match(t)
    if m:
        rest = t[m.end() :]
        if m["w"].endswith("晚") and not rest.strip().startswith(("晚", "夜")):
            rest = "晚上" + rest.strip()
        return today + timedelta(days=_DAY_OFFSET[m["w"]]), rest, True, None
    m = _WEEK_WORD.match(t)
    if m:
        d = m["d"]
        weekday = int(d) - 1 if d.isdigit() else _WEEKDAYS[d]
        which = m["which"] or ""
        monday = today - timedelta(days=today.weekday())
        if which in ("下", "下个"):
            return monday + timedelta(days=7 + weekday), t[m.end() :], True, None
        if which == "下下":
            return monday + timedelta(days=14 + weekday), t[m.end() :], True, None
        if which in ("本", "这", "这个"):
            return monday + timedelta(days=weekday), t[m.end() :], True, None
        ahead = (weekday - today.weekday()) % 7
        return today + timedelta(days=ahead), t[m.end() :], True, "next"
    return None, t, False, None


def _mkdate(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise TimeParseError("bad_date") from None


def _time_part(t: str) -> time | None:
    t = t.strip()
    if not t:
        return None
    m = _CLOCK.match(t) or _CN_CLOCK.match(t)
    if not m:
        raise TimeParseError("unrecognised", t)
    hour = _number(m["h"])
    minute = 30 if m.groupdict().get("half") else (_number(m["mi"]) if m["mi"] else 0)
    period = m["period"] or ""
    if period in ("下午", "傍晚", "晚上", "夜里", "晚") and hour < 12:
        hour += 12
    elif period == "中午" and hour < 11:
        hour += 12
    elif period == "凌晨" and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise TimeParseError("bad_time", t)
    return time(hour, minute)


def parse_when(text: str, now: datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> datetime:
    """One moment, as written by a person in zone `tz`; aware UTC."""
    zone = _zone(tz)
    t = _normalise(text)
    if not t:
        raise TimeParseError("empty", text)
    try:
        moment = _relative(t, now)
        if moment is not None:
            return moment
        local_now = now.astimezone(zone)
        today = local_now.date()
        day, rest, has_year, weekday = _date_part(t, today)
        clock = _time_part(rest)
    except TimeParseError as err:
        raise TimeParseError(err.reason, text) from None
    if clock is None:
        raise TimeParseError("no_time" if day is not None else "unrecognised", text)
    if day is None:
        day = today
    elif not has_year and day < today:
        try:
            day = day.replace(year=day.year + 1)
        except ValueError:
            raise TimeParseError("bad_date", text) from None
    result = datetime.combine(day, clock, zone)
    if weekday == "next" and result <= local_now:
        result = datetime.combine(day + timedelta(days=7), clock, zone)
    return result.astimezone(UTC)


_RANGE_SEP = re.compile(r"\s*(?:-|~|～|—|–|至|到)\s*")


def parse_range(
    text: str, now: datetime, tz: str | ZoneInfo = DEFAULT_TZ
) -> tuple[datetime, datetime]:
    """(start, end) from "11月30日 14:00-16:00"; a bare end time is on the start's day."""
    zone = _zone(tz)
    t = _normalise(text)
    if not t:
        raise TimeParseError("empty", text)
    for m in _RANGE_SEP.finditer(t):
        left, right = t[: m.start()], t[m.end() :]
        if not left or not right:
            continue
        try:
            start = parse_when(left, now, zone)
        except TimeParseError:
            continue
        try:
            clock = _time_part(right)
        except TimeParseError:
            clock = None
        if clock is not None:
            end = datetime.combine(start.astimezone(zone).date(), clock, zone)
            afternoon = start.astimezone(zone).hour >= 12
            if (
                end <= start
                and afternoon
                and clock.hour < 12
                and not right.startswith(_PERIOD_WORDS)
            ):
                # "下午2点到4点": the end shares the start's afternoon
                later = end + timedelta(hours=12)
                end = later if later > start else end
            return start, end.astimezone(UTC)
        try:
            return start, parse_when(right, now, zone)
        except TimeParseError:
            continue
    try:
        parse_when(t, now, zone)
    except TimeParseError as err:
        raise TimeParseError(err.reason, text) from None
    raise TimeParseError("no_range", text)


def split_when(text: str, now: datetime, tz: str | ZoneInfo = DEFAULT_TZ) -> tuple[datetime, str]:
    """The longest leading run of words that is a time, and the rest of the text as typed.

    "今天 18:00 请大家按时参加" → (today 18:00, "请大家按时参加").
    """
    words = list(re.finditer(r"\S+", text or ""))
    if not words:
        raise TimeParseError("empty", text)
    first_error: TimeParseError | None = None
    for k in range(len(words), 0, -1):
        head = text[words[0].start() : words[k - 1].end()]
        try:
            moment = parse_when(head, now, tz)
        except TimeParseError as err:
            if k == 1:
                first_error = err
            continue
        return moment, text[words[k - 1].end() :].strip()
    assert first_error is not None
    raise first_error
