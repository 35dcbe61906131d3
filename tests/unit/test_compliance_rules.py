"""三会一课的判定（到会率、开了没有、哪个支部）：纯规则，没有数据库。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.activities.rules import (
    MeetingFigures,
    ancestor_paths,
    branch_of,
    meeting_result,
    requirement_status,
)

NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)
H = timedelta(hours=1)
PAST, FUTURE = NOW - H, NOW + H


@pytest.mark.parametrize(
    ("kind", "members", "confirmed", "late", "came", "ends", "expected", "rate", "held"),
    [
        # the whole branch is expected at the general meeting and the lecture
        ("general_meeting", 10, 3, 0, 8, PAST, 10, 80.0, True),
        ("lecture", 3, 9, 0, 1, PAST, 3, 33.3, True),
        # … unless no member is known: then the sign-ups
        ("lecture", 0, 4, 0, 2, PAST, 4, 50.0, True),
        # committee and group meetings: the sign-ups and the late cancellations
        ("committee", 10, 4, 1, 4, PAST, 5, 80.0, True),
        ("group_meeting", 10, 0, 0, 0, PAST, 0, None, False),  # nobody expected: no rate
        # held = ended and someone came
        ("committee", 10, 4, 0, 0, PAST, 4, 0.0, False),
        ("committee", 10, 4, 0, 4, FUTURE, 4, 100.0, False),
        ("committee", 10, 4, 0, 3, NOW, 4, 75.0, True),
    ],
)
def test_meeting_result(kind, members, confirmed, late, came, ends, expected, rate, held):
    m = MeetingFigures(kind, ends, confirmed, late, came)
    assert meeting_result(m, members, NOW) == {
        "attended": came,
        "expected": expected,
        "rate": rate,
        "held": held,
    }


@pytest.mark.parametrize(
    ("meetings", "status"),
    [
        ([], "missing"),
        ([(PAST, False)], "missing"),
        ([(PAST, True)], "held"),
        ([(FUTURE, False)], "scheduled"),
        ([(PAST, False), (FUTURE, False)], "scheduled"),
        ([(FUTURE, False), (PAST, True)], "held"),
        ([(NOW, False)], "missing"),  # ended just now without anyone
    ],
)
def test_requirement_status(meetings, status):
    assert requirement_status(meetings, NOW) == status


@pytest.mark.parametrize(
    ("path", "branch"),
    [
        ("/1/4/9/", "/1/4/9/"),
        ("/1/4/9/11/", "/1/4/9/"),
        ("/1/4/9/12/15/", "/1/4/9/12/"),  # nested branches: the deepest
        ("/1/4/10/", "/1/4/10/"),
    ],
)
def test_branch_of(path, branch):
    assert branch_of(["/1/4/9/", "/1/4/9/12/", "/1/4/10/"], path) == branch


def test_ancestor_paths():
    assert ancestor_paths("/1/4/9/") == ["/1/", "/1/4/", "/1/4/9/"]
    assert ancestor_paths("/") == []
