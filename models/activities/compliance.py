"""三会一课：每个支部本期该开的会开了没有、到会率。判定在 rules.py。"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections

from bot.db import placeholders
from models.activities.publish import Activity
from models.activities.rules import (
    MEMBER_ROLES,
    REQUIRED_MEETINGS,
    MeetingFigures,
    branch_of,
    meeting_result,
    month_range,
    quarter_range,
    requirement_status,
)
from models.people import Organization, RoleGrant, orgs_under, scope_q


async def compliance(branches: list[Organization], now: datetime) -> list[dict[str, Any]]:
    """For each branch: was each required meeting held this period, with attendance?

    Period: the month (支委会, 党小组会) or the quarter (支部党员大会, 党课) of `now`, on
    the configured clock. Held = not cancelled, ended, at least one person attended.
    Attendance rate = attended / expected (rules.meeting_result). status: held /
    scheduled (in the period, not ended yet) / missing (rules.requirement_status).

    Four queries for all the branches together (members, meetings, their sign-ups, which
    of those who came are members); callers pass a page of branches, not a district's
    thousand.
    """
    periods = {"month": month_range(now), "quarter": quarter_range(now)}
    if not branches:
        return []
    by_path = {b.path: b for b in branches}
    # The page's organisations as a list (a page of branches and what lies under them):
    # with the subtree as a subquery, the plan PostgreSQL kept for the meetings read the
    # period's activities of every branch first (2 ms instead of 0.3).
    org_paths = dict(
        await Organization.filter(id__in=orgs_under(by_path)).values_list("id", "path")
    )
    orgs = sorted(org_paths)
    members: dict[int, set[int]] = {b.id: set() for b in branches}
    for org_id, person in await RoleGrant.filter(org_id__in=orgs, role="member").values_list(
        "org_id", "person_id"
    ):
        members[by_path[branch_of(by_path, org_paths[org_id])].id].add(person)
    acts = (
        await Activity.filter(
            org_id__in=orgs,
            kind__in=[k for k, _ in REQUIRED_MEETINGS],
            status="open",
            starts_at__gte=min(p[0] for p in periods.values()),
            starts_at__lt=max(p[1] for p in periods.values()),
        )
        .select_related("org")
        .order_by("starts_at", "id")
    )
    counted = await _meeting_figures([a.id for a in acts])
    report = []
    for branch in branches:
        n_members = len(members[branch.id])
        mine = [a for a in acts if branch_of(by_path, a.org.path) == branch.path]
        items = []
        for kind, period in REQUIRED_MEETINGS:
            start, end = periods[period]
            meetings = []
            for act in (a for a in mine if a.kind == kind and start <= a.starts_at < end):
                f = counted[act.id]  # 三会一课 counts members only
                figures = MeetingFigures(
                    kind, act.ends_at, f["confirmed"], f["late_cancels"], f["attended_members"]
                )
                meetings.append({"activity": act, **meeting_result(figures, n_members, now)})
            status = requirement_status([(m["activity"].ends_at, m["held"]) for m in meetings], now)
            items.append(
                {
                    "kind": kind,
                    "period": period,
                    "start": start,
                    "end": end,
                    "status": status,
                    "meetings": meetings,
                }
            )
        report.append({"branch": branch, "members": n_members, "requirements": items})
    return report


async def branches_page(
    paths: list[str], page: int, size: int
) -> tuple[list[Organization], int, int]:
    """/三会一课: one page of the branches under `paths` (Ctx.scope_paths), by path.
    Returns (branches, page clamped to the last, pages)."""
    branches = Organization.filter(scope_q(paths, "id"), kind="branch")
    pages = max((await branches.count() + size - 1) // size, 1)
    page = min(page, pages)
    shown = await branches.order_by("path").offset((page - 1) * size).limit(size)
    return shown, page, pages


# One row per meeting, counted by the database (reading every sign-up row and the
# attendees' grants into Python was most of /三会一课's time). A person who came counts
# once, if they hold a member role anywhere: the page's attendees first, then their
# grants by the (person, role, org) index (an EXISTS per row became a hash of every
# member grant of the district on PostgreSQL, 22 ms).
_FIGURES_SQL = """SELECT s.activity_id AS id,
 SUM(CASE WHEN s.status = 'confirmed' THEN 1 ELSE 0 END) AS confirmed,
 SUM(CASE WHEN s.status = 'cancelled' AND s.late_cancel THEN 1 ELSE 0 END) AS late_cancels,
 COUNT(DISTINCT CASE WHEN s.attended_at IS NOT NULL THEN m.person_id END) AS attended_members
FROM activity_signup s LEFT JOIN (SELECT DISTINCT g.person_id FROM role_grant g
 WHERE g.role IN ({roles}) AND g.person_id IN (SELECT a.person_id FROM activity_signup a
  WHERE a.activity_id IN ({came}) AND a.attended_at IS NOT NULL)) m ON m.person_id = s.person_id
WHERE s.activity_id IN ({ids}) GROUP BY s.activity_id"""


async def _meeting_figures(activity_ids: list[int]) -> dict[int, dict[str, int]]:
    """Activity.figures' confirmed / late_cancels / attended_members for a page's
    meetings in one query (not two per meeting). `activity_ids` is a page's meetings."""
    out = {i: {"confirmed": 0, "late_cancels": 0, "attended_members": 0} for i in activity_ids}
    if not activity_ids:
        return out
    conn = connections.get("default")
    values: list[Any] = [*MEMBER_ROLES, *activity_ids, *activity_ids]
    marks = placeholders(conn, len(values))
    roles, n = len(MEMBER_ROLES), len(activity_ids)
    sql = _FIGURES_SQL.format(
        roles=",".join(marks[:roles]),
        came=",".join(marks[roles : roles + n]),
        ids=",".join(marks[roles + n :]),
    )
    for row in await conn.execute_query_dict(sql, values):
        out[row["id"]] = {k: int(row[k] or 0) for k in out[row["id"]]}
    return out
