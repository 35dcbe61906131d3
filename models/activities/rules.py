"""组织生活的纯规则：取值检查、签到时段、输错锁定、现场报名、积分、三会一课的判定。

Nothing here touches the database or the clock: every function takes `now` and the
figures it needs and returns a value (or raises `DomainError`), so tests/unit/ checks
them in milliseconds. The models (models/activities/*.py) read the rows, call these
and write the result with their conditional UPDATEs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from bot.clock import local, month_range, quarter_range, week_range  # noqa: F401 (periods)
from bot.text import fold_width
from bot.timeparse import TimeParseError, parse_range, parse_when
from models.errors import DomainError

# 支部党员大会 · 支委会 · 党小组会 · 党课 · 主题党日 · 志愿服务 · 开放活动 · 其他
KINDS = (
    "general_meeting",
    "committee",
    "group_meeting",
    "lecture",
    "theme_day",
    "volunteer",
    "open",
    "other",
)
# 三会一课: what each branch must hold, and how often.
REQUIRED_MEETINGS = (
    ("general_meeting", "quarter"),
    ("committee", "month"),
    ("group_meeting", "month"),
    ("lecture", "quarter"),
)
# Meetings of the whole branch: expected = its members (else: the confirmed sign-ups).
WHOLE_BRANCH = ("general_meeting", "lecture")
# Who may join: members of the publishing organisation's subtree / any member / anyone.
AUDIENCES = ("org", "members", "everyone")
# Party life (三会一课, 主题党日): for the branch's members whoever else is in the group.
PARTY_LIFE = ("general_meeting", "committee", "group_meeting", "lecture", "theme_day")
# offered = promoted from the waitlist, holding the seat until confirmed (models/waitlist.py)
ACTIVE = ("confirmed", "waitlisted", "offered")
SEATED = ("confirmed", "offered")
MEMBER_ROLES = ("member", "officer")
# adjust = /补积分 by an officer with a reason; redeem = a catalogue item (models/redemption.py)
POINT_KINDS = ("attendance", "volunteer", "lesson", "adjust", "redeem")
CODE_OPEN_MINUTES = 30
TITLE_MAX = 60
PLACE_MAX = 200
MAX_HOURS = Decimal("24")
MAX_CAPACITY = 10000
# What /修改活动 may change.
EDITABLE = (
    "title",
    "kind",
    "starts_at",
    "ends_at",
    "place",
    "capacity",
    "audience",
    "volunteer_hours",
    "signup_deadline",
)


def default_audience(kind: str, community_group: bool) -> str:
    """Who may join when the publisher does not say. Published in a group bound to the
    community, an activity is for everyone the community serves (residents too), except
    party life, which is the branch's; elsewhere only 开放活动 are for everyone."""
    if kind in PARTY_LIFE:
        return "org"
    return "everyone" if community_group or kind == "open" else "org"


def parse_number(text: str) -> int | None:
    t = fold_width(text or "").strip().lstrip("#").removeprefix("活动")
    return int(t) if t.isdigit() and len(t) < 10 else None


def parse_hours(text: str | Decimal | int | float) -> Decimal:
    """ "2" / "1.5" / "2小时" → Decimal with one decimal place; refuse anything else."""
    raw = fold_width(str(text)).strip().removesuffix("小时").removesuffix("h").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise DomainError("act_bad_hours", hours=str(text)) from None
    if not value.is_finite() or value < 0 or value > MAX_HOURS or value != round(value, 1):
        raise DomainError("act_bad_hours", hours=str(text))
    return value.quantize(Decimal("0.1"))


def parse_capacity(text: str, unlimited: Iterable[str]) -> int:
    """ "30" / "30人" / "30名" → 30; a word of `unlimited` (不限) → 0; within MAX_CAPACITY."""
    a = fold_width(text).strip().removesuffix("人").removesuffix("名").strip()
    if a in unlimited:
        return 0
    if not a.isdigit():
        raise DomainError("act_bad_capacity", capacity=text.strip()[:20], limit=MAX_CAPACITY)
    return check_capacity(int(a))


def check_title(title: str) -> str:
    if not 1 <= len(title) <= TITLE_MAX:
        raise DomainError("act_bad_title", limit=TITLE_MAX)
    return title


def check_capacity(capacity: Any) -> int:
    if not (isinstance(capacity, int) and 0 <= capacity <= MAX_CAPACITY):
        raise DomainError("act_bad_capacity", capacity=capacity, limit=MAX_CAPACITY)
    return capacity


def checked_values(now: datetime, **v: Any) -> dict[str, Any]:
    """The values of a new or changed activity, checked together (times against `now`);
    volunteer_hours normalised. Raises the first refusal."""
    if "title" in v:
        check_title(v["title"])
    if "kind" in v and v["kind"] not in KINDS:
        raise DomainError("act_bad_kind", kind=v["kind"])
    if "audience" in v and v["audience"] not in AUDIENCES:
        raise DomainError("act_bad_audience", audience=v["audience"])
    if "capacity" in v:
        check_capacity(v["capacity"])
    if "volunteer_hours" in v:
        v["volunteer_hours"] = parse_hours(v["volunteer_hours"])
    start, end = v.get("starts_at"), v.get("ends_at")
    if start is not None and start <= now:
        raise DomainError("act_start_past", starts_at=start)
    if start is not None and end is not None and end <= start:
        raise DomainError("act_end_before_start", starts_at=start, ends_at=end)
    deadline = v.get("signup_deadline")
    if deadline is not None:
        if deadline <= now:
            raise DomainError("act_deadline_past", deadline=deadline)
        if start is not None and deadline > start:
            raise DomainError("act_deadline_after_start", deadline=deadline, starts_at=start)
    return v


# -- times as typed (bot/timeparse.py), refused as DomainError -----------------------------
def time_error(err: TimeParseError) -> DomainError:
    return DomainError("time_unparsed", reason=err.reason, text=err.text.strip()[:40])


def read_when(text: str, now: datetime, tz: str) -> datetime:
    try:
        return parse_when(text, now, tz)
    except TimeParseError as err:
        raise time_error(err) from None


def read_range(text: str, now: datetime, tz: str) -> tuple[datetime, datetime]:
    try:
        return parse_range(text, now, tz)
    except TimeParseError as err:
        raise time_error(err) from None


def read_start(text: str, now: datetime, tz: str) -> tuple[datetime, datetime | None]:
    """A start ("明天 14:00") or a whole range ("明天 14:00-16:00": both)."""
    try:
        return parse_range(text, now, tz)
    except TimeParseError:
        return read_when(text, now, tz), None


def read_end(start: datetime, text: str, now: datetime, tz: str) -> datetime:
    """The end as typed after the start: "16:00" (the start's day) or a full time."""
    try:
        return parse_range(f"{local(start):%Y-%m-%d %H:%M}-{text}", now, tz)[1]
    except TimeParseError:
        return read_when(text, now, tz)


# -- 签到 ---------------------------------------------------------------------------------
def attend_window(
    starts_at: datetime, ends_at: datetime, open_minutes: int = CODE_OPEN_MINUTES
) -> tuple[datetime, datetime]:
    """[opens, closes): the code works from `open_minutes` before the start to the end."""
    return starts_at - timedelta(minutes=open_minutes), ends_at


def check_attend_window(
    number: int,
    status: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    open_minutes: int = CODE_OPEN_MINUTES,
    *,
    title: str = "",
) -> None:
    if status == "cancelled":
        raise DomainError("act_cancelled", number=number, title=title)
    opens, closes = attend_window(starts_at, ends_at, open_minutes)
    if not opens <= now < closes:
        raise DomainError("act_attend_window", number=number, opens=opens, closes=closes, now=now)


@dataclass(frozen=True)
class LockOut:
    """The wrong-code count of one person for one activity, and how it moves."""

    failures: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def wrong(self, now: datetime, attempts: int, minutes: int) -> LockOut:
        """One more wrong code; the `attempts`-th locks for `minutes` and starts over."""
        failures = self.failures + 1
        if failures >= attempts:
            return LockOut(0, now + timedelta(minutes=minutes))
        return LockOut(failures, None)

    def attempts_left(self, attempts: int) -> int:
        return 0 if self.locked_until is not None else attempts - self.failures

    @property
    def clean(self) -> bool:
        return not self.failures and self.locked_until is None


def is_walk_in(status: str | None) -> bool:
    """Attending without a seat: not signed up (None), or still on the waitlist."""
    return status is None or status == "waitlisted"


def attendance_points(
    member: bool, hours: Decimal, per_attendance: int, per_hour: int
) -> tuple[int, int]:
    """(attendance, volunteer) points of one attendance; 群众 get none (先锋指数 is for
    members), volunteer points are the hours times `per_hour`, rounded half up."""
    if not member:
        return 0, 0
    volunteer = int((Decimal(hours) * per_hour).to_integral_value(ROUND_HALF_UP))
    return per_attendance, volunteer


# -- 三会一课 -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeetingFigures:
    """What compliance needs of one meeting (Activity.figures)."""

    kind: str
    ends_at: datetime
    confirmed: int
    late_cancels: int
    attended_members: int


def meeting_result(m: MeetingFigures, members: int, now: datetime) -> dict[str, Any]:
    """Attended, expected, rate (% to one decimal, None when nobody was expected), held.

    Expected: the branch's members for a whole-branch meeting (when any are known),
    else the confirmed sign-ups and the late cancellations. Held: ended and someone came."""
    whole = m.kind in WHOLE_BRANCH and members > 0
    expected = members if whole else m.confirmed + m.late_cancels
    came = m.attended_members
    return {
        "attended": came,
        "expected": expected,
        "rate": round(100 * came / expected, 1) if expected else None,
        "held": m.ends_at <= now and came > 0,
    }


def requirement_status(meetings: Sequence[tuple[datetime, bool]], now: datetime) -> str:
    """held (one was held) / scheduled (one has not ended yet) / missing, from each
    meeting's (ends_at, held)."""
    if any(held for _, held in meetings):
        return "held"
    if any(ends_at > now for ends_at, _ in meetings):
        return "scheduled"
    return "missing"


def branch_of(branch_paths: Iterable[str], path: str) -> str:
    """The branch (by path) whose subtree holds `path`: the deepest, should they nest."""
    return max((b for b in branch_paths if path.startswith(b)), key=len)


# -- 候补递补 -------------------------------------------------------------------------------
def offer_deadline(now: datetime, starts_at: datetime, window_hours: float) -> datetime:
    """By when a promoted person must confirm: the window, but never more than half of
    the time left before the start (a seat offered an hour before passes on quickly)."""
    window = timedelta(hours=window_hours)
    left = starts_at - now
    if left <= timedelta(0):
        return now
    return now + min(window, left / 2)


def is_late_cancel(now: datetime, starts_at: datetime, late_hours: float) -> bool:
    """Cancelling this close to the start counts as absence in the attendance figures."""
    return starts_at - now < timedelta(hours=late_hours)


def ancestor_paths(path: str) -> list[str]:
    """ "/1/4/9/" → ["/1/", "/1/4/", "/1/4/9/"]: the organisation and those above it."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
