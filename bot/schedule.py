"""周期规则与免打扰时段。

A rule is stored in one canonical string: ``once``, ``cron:M H DOM MON DOW``
(what `每天 08:00`, `每周一 09:00`, `每月1日 10:00` and typed cron expressions
become) or ``every:SECONDS`` (services' periodic jobs). Next fire times come
from apscheduler's own CronTrigger, in the organisation's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.text import fold_width

WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
CRON_DOW = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = r"(\d{1,2})(?:[:：点](\d{1,2}|半)?)?分?"
_CRON_FIELD = re.compile(r"^[\d*/,\-a-zA-Z?]+$")


class RuleError(ValueError):
    """The text is not a rule we understand; the message is a template key."""


@dataclass(frozen=True)
class Rule:
    canonical: str
    text: str  # how to show it back ("每周一 09:00")


def _hm(hour: str, minute: str | None) -> tuple[int, int]:
    h = int(hour)
    m = 30 if minute == "半" else int(minute or 0)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise RuleError("rule_bad_time")
    return h, m


def split_rule(text: str) -> tuple[Rule, str]:
    """Read a recurring rule at the start of `text`; return it and the rest.

    ``每天 08:00`` · ``每日8点`` · ``工作日 8:30`` · ``每周一 09:00`` · ``每星期五 17:00`` ·
    ``每月1日 10:00`` · ``每月15号 9点`` · a five-field cron expression ``0 8 * * 1-5``.
    """
    original = text.strip()
    s = fold_width(original)  # one character for one: positions carry over to `original`
    words = s.split()
    # A cron expression: five fields that look like cron fields.
    if len(words) >= 5 and all(_CRON_FIELD.match(w) for w in words[:5]):
        expr = " ".join(words[:5])
        try:
            _cron(expr, "UTC")
        except (ValueError, IndexError) as exc:
            raise RuleError("rule_bad_cron") from exc
        rest = original.split(None, 5)[5] if len(words) > 5 else ""
        return Rule(f"cron:{expr}", expr), rest
    patterns: list[tuple[str, str]] = [
        (rf"^(?:每天|每日)\s*{_TIME}", "daily"),
        (rf"^(?:工作日|每个工作日)\s*{_TIME}", "workday"),
        (rf"^每(?:周|星期|礼拜)([一二三四五六日天])\s*{_TIME}", "weekly"),
        (rf"^每(?:个)?月\s*(\d{{1,2}})\s*[日号]\s*{_TIME}", "monthly"),
    ]
    for pattern, kind in patterns:
        m = re.match(pattern, s)
        if not m:
            continue
        rest = original[m.end() :].strip()
        if kind == "daily":
            h, mi = _hm(m.group(1), m.group(2))
            return Rule(f"cron:{mi} {h} * * *", f"每天 {h:02d}:{mi:02d}"), rest
        if kind == "workday":
            h, mi = _hm(m.group(1), m.group(2))
            return Rule(f"cron:{mi} {h} * * mon-fri", f"工作日 {h:02d}:{mi:02d}"), rest
        if kind == "weekly":
            day = WEEKDAYS[m.group(1)]
            h, mi = _hm(m.group(2), m.group(3))
            return (
                Rule(f"cron:{mi} {h} * * {CRON_DOW[day]}", f"每周{m.group(1)} {h:02d}:{mi:02d}"),
                rest,
            )
        dom = int(m.group(1))
        if not 1 <= dom <= 31:
            raise RuleError("rule_bad_day")
        h, mi = _hm(m.group(2), m.group(3))
        return Rule(f"cron:{mi} {h} {dom} * *", f"每月{dom}日 {h:02d}:{mi:02d}"), rest
    raise RuleError("rule_unknown")


def next_fire(rule: str, after: datetime, tz: str) -> datetime | None:
    """The first fire time strictly after `after` (aware, UTC), or None for `once`."""
    if rule == "once":
        return None
    if rule.startswith("every:"):
        return after + timedelta(seconds=int(rule.split(":", 1)[1]))
    if rule.startswith("cron:"):
        trigger = _cron(rule[5:], tz)
        nxt = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
        return None if nxt is None else nxt.astimezone(after.tzinfo)
    raise ValueError(f"unknown rule {rule!r}")


_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_dow(field: str) -> str:
    """cron counts days of the week from Sunday = 0 (7 too); apscheduler 3's
    CronTrigger (and its from_crontab) from Monday = 0. Numbers become names."""

    def name(n: str) -> str:
        return _CRON_DAY_NAMES[int(n)] if n.isdigit() and int(n) <= 7 else n

    parts = []
    for part in field.split(","):
        rng, slash, step = part.partition("/")
        if "-" in rng:
            a, b = rng.split("-", 1)
            if a == "0" and b.isdigit():  # Sunday first: apscheduler ranges start Monday
                rng = "sun" + (f",mon-{name(b)}" if int(b) >= 1 else "")
                rng = "*" if b in ("6", "7") else rng
            else:
                rng = f"{name(a)}-{name(b)}"
        else:
            rng = name(rng)
        parts.append(rng + (slash + step if slash else ""))
    return ",".join(parts)


def _cron(expr: str, tz: str) -> CronTrigger:
    minute, hour, day, month, dow = expr.split()
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_dow(dow),
        timezone=ZoneInfo(tz),
    )  # fmt: skip


@dataclass(frozen=True)
class QuietHours:
    """免打扰时段（本地时间，可跨午夜，如 22:00–07:00）。"""

    start: time
    end: time
    tz: str

    @classmethod
    def parse(cls, start: str, end: str, tz: str) -> QuietHours:
        return cls(time.fromisoformat(start), time.fromisoformat(end), tz)

    def contains(self, when: datetime) -> bool:
        t = when.astimezone(ZoneInfo(self.tz)).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def release(self, when: datetime) -> datetime:
        """`when` itself outside quiet hours, else the end of the quiet period it is in."""
        if not self.contains(when):
            return when
        zone = ZoneInfo(self.tz)
        local = when.astimezone(zone)
        end = datetime.combine(local.date(), self.end, zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, zone)
        return end.astimezone(when.tzinfo)
