"""组织生活菜单：活动发布、报名 / 候补、现场签到、时间银行、积分与三会一课。

- `rules`: the pure rules (values, the 签到 window and lock-out, walk-ins, points,
  三会一课's verdicts, waitlist deadlines, periods): no database, tests/unit/;
- `publish`: `Activity` (publish, revise, cancel, who may see and join, figures);
- `signup`: `Signup` and the seat counter (join, leave, promote) — `Activity.join` …;
- `attend`: the 签到 code, the wrong-code lock-out (`CheckinAttempt`), `Activity.attend`;
- `timebank`: the ledgers `TimeBankEntry` and `PointsEntry`, balance, leaderboard;
- `calendar`: the menu's, the broadcasts' and the jobs' queries;
- `compliance`: 三会一课 per branch.

Every state change is a conditional ``UPDATE`` whose row count decides who won, so
concurrent callers have one winner on SQLite and PostgreSQL alike. Models take `now`
from the caller (handlers pass ``ctx.now()``, jobs their `now`). Refusals are
`DomainError`s; the sentences are in templates/zh_CN/refused.j2.
"""

from models.activities.attend import Attendance, CheckinAttempt
from models.activities.calendar import (
    ended_recently,
    reminders_due,
    visible_upcoming,
    visible_upcoming_page,
    week_activities,
)
from models.activities.compliance import branches_page, compliance
from models.activities.publish import Activity, CallerLike, members_of, need_org
from models.activities.rules import (
    ACTIVE,
    AUDIENCES,
    CODE_OPEN_MINUTES,
    KINDS,
    MAX_CAPACITY,
    MAX_HOURS,
    MEMBER_ROLES,
    PARTY_LIFE,
    POINT_KINDS,
    REQUIRED_MEETINGS,
    SEATED,
    TITLE_MAX,
    ancestor_paths,
    check_capacity,
    check_title,
    default_audience,
    month_range,
    parse_capacity,
    parse_hours,
    parse_number,
    quarter_range,
    week_range,
)
from models.activities.signup import Signup
from models.activities.timebank import (
    PointsEntry,
    TimeBankEntry,
    adjustments_of,
    award_points,
    balance,
    find_person,
    leaderboard,
    people_of,
    points_of,
    points_since_and_ever,
)
from models.people import RoleGrant  # tests import it from here

__all__ = [
    "ACTIVE",
    "AUDIENCES",
    "CODE_OPEN_MINUTES",
    "KINDS",
    "MAX_CAPACITY",
    "MAX_HOURS",
    "MEMBER_ROLES",
    "PARTY_LIFE",
    "POINT_KINDS",
    "REQUIRED_MEETINGS",
    "SEATED",
    "TITLE_MAX",
    "Activity",
    "Attendance",
    "CallerLike",
    "CheckinAttempt",
    "PointsEntry",
    "RoleGrant",
    "Signup",
    "TimeBankEntry",
    "adjustments_of",
    "ancestor_paths",
    "award_points",
    "balance",
    "branches_page",
    "check_capacity",
    "check_title",
    "compliance",
    "default_audience",
    "ended_recently",
    "find_person",
    "leaderboard",
    "members_of",
    "month_range",
    "need_org",
    "parse_capacity",
    "parse_hours",
    "parse_number",
    "people_of",
    "points_of",
    "points_since_and_ever",
    "quarter_range",
    "reminders_due",
    "visible_upcoming",
    "visible_upcoming_page",
    "week_activities",
    "week_range",
]
