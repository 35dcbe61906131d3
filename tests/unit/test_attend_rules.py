"""签到的纯规则：时段、输错锁定、现场报名、积分；活动取值的检查。没有数据库。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.activities.rules import (
    MAX_CAPACITY,
    TITLE_MAX,
    LockOut,
    attend_window,
    attendance_points,
    check_attend_window,
    checked_values,
    is_walk_in,
    parse_capacity,
)
from models.errors import DomainError

NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)
START, END = NOW + H, NOW + 3 * H


def code_of(call) -> str:
    try:
        call()
    except DomainError as err:
        return err.code
    return ""


# -- the window ---------------------------------------------------------------------------
def test_attend_window_opens_before_the_start_and_closes_at_the_end():
    assert attend_window(START, END, 30) == (START - 30 * M, END)
    assert attend_window(START, END, 0) == (START, END)


@pytest.mark.parametrize(
    ("now", "status", "code"),
    [
        (START - 31 * M, "open", "act_attend_window"),  # too early
        (START - 30 * M, "open", ""),  # opens exactly then
        (START, "open", ""),
        (END - M, "open", ""),
        (END, "open", "act_attend_window"),  # closed at the end
        (START, "cancelled", "act_cancelled"),
    ],
)
def test_check_attend_window(now, status, code):
    assert code_of(lambda: check_attend_window(7, status, START, END, now, 30)) == code


def test_the_window_refusal_says_when():
    with pytest.raises(DomainError) as info:
        check_attend_window(7, "open", START, END, NOW, 30)
    assert info.value.details == {"number": 7, "opens": START - 30 * M, "closes": END, "now": NOW}


# -- the lock-out -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("failures", "attempts", "after", "locked", "left"),
    [
        (0, 5, 1, False, 4),
        (3, 5, 4, False, 1),
        (4, 5, 0, True, 0),  # the fifth wrong code locks and starts over
        (0, 1, 0, True, 0),
    ],
)
def test_a_wrong_code(failures, attempts, after, locked, left):
    lock = LockOut(failures).wrong(NOW, attempts, 10)
    assert lock.failures == after
    assert (lock.locked_until == NOW + 10 * M) if locked else lock.locked_until is None
    assert lock.attempts_left(attempts) == left


@pytest.mark.parametrize(
    ("until", "locked"),
    [(None, False), (NOW - M, False), (NOW, False), (NOW + M, True)],
)
def test_locked_until(until, locked):
    assert LockOut(0, until).locked(NOW) is locked


def test_clean():
    assert LockOut().clean
    assert not LockOut(1).clean
    assert not LockOut(0, NOW).clean


# -- walk-ins and points -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "walk_in"),
    [(None, True), ("waitlisted", True), ("confirmed", False), ("offered", False)],
)
def test_walk_in(status, walk_in):
    assert is_walk_in(status) is walk_in


@pytest.mark.parametrize(
    ("member", "hours", "per_attendance", "per_hour", "points"),
    [
        (True, "2", 5, 10, (5, 20)),
        (True, "0", 5, 10, (5, 0)),
        (True, "1.5", 0, 3, (0, 5)),  # 4.5 rounds half up
        (True, "0.5", 5, 1, (5, 1)),
        (False, "2", 5, 10, (0, 0)),  # 群众: no points
    ],
)
def test_attendance_points(member, hours, per_attendance, per_hour, points):
    assert attendance_points(member, Decimal(hours), per_attendance, per_hour) == points


# -- the values of an activity --------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"title": "党课"}, ""),
        ({"title": ""}, "act_bad_title"),
        ({"title": "x" * (TITLE_MAX + 1)}, "act_bad_title"),
        ({"kind": "lecture"}, ""),
        ({"kind": "party"}, "act_bad_kind"),
        ({"audience": "everyone"}, ""),
        ({"audience": "friends"}, "act_bad_audience"),
        ({"capacity": MAX_CAPACITY}, ""),
        ({"capacity": MAX_CAPACITY + 1}, "act_bad_capacity"),
        ({"capacity": -1}, "act_bad_capacity"),
        ({"volunteer_hours": "25"}, "act_bad_hours"),
        ({"starts_at": NOW}, "act_start_past"),
        ({"starts_at": START, "ends_at": START}, "act_end_before_start"),
        ({"starts_at": START, "ends_at": END}, ""),
        ({"signup_deadline": NOW}, "act_deadline_past"),
        ({"starts_at": START, "signup_deadline": START + M}, "act_deadline_after_start"),
        ({"starts_at": START, "signup_deadline": START}, ""),
    ],
)
def test_checked_values(values, code):
    assert code_of(lambda: checked_values(NOW, **values)) == code


def test_hours_are_normalised():
    assert checked_values(NOW, volunteer_hours="2小时") == {"volunteer_hours": Decimal("2.0")}


@pytest.mark.parametrize(
    ("text", "capacity"),
    [
        ("30", 30),
        ("30人", 30),
        ("３０名", 30),
        ("不限", 0),
        ("0", 0),
        (str(MAX_CAPACITY), MAX_CAPACITY),
    ],
)
def test_parse_capacity(text, capacity):
    assert parse_capacity(text, ["0", "不限"]) == capacity


@pytest.mark.parametrize("text", ["很多", "-3", str(MAX_CAPACITY + 1)])
def test_parse_capacity_refuses(text):
    assert code_of(lambda: parse_capacity(text, ["不限"])) == "act_bad_capacity"
