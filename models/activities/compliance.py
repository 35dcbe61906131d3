"""三会一课：每个支部本期该开的会开了没有、到会率。判定在 rules.py。"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from models.activities.publish import Activity
from models.activities.rules import (
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

    Three queries for all the branches together (members, meetings, their sign-ups);
    callers pass a page of branches, not a district's thousand.
    """
    periods = {"month": month_range(now), "quarter": quarter_range(now)}
    if not branches:
        return []
    by_path = {b.path: b for b in branches}
    orgs = orgs_under(by_path)
    members: dict[int, set[int]] = {b.id: set() for b in branches}
    for path, person in await RoleGrant.filter(org_id__in=orgs, role="member").values_list(
        "org__path", "person_id"
    ):
        members[by_path[branch_of(by_path, path)].id].add(person)
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
    report = []
    for branch in branches:
        n_members = len(members[branch.id])
        mine = [a for a in acts if branch_of(by_path, a.org.path) == branch.path]
        items = []
        for kind, period in REQUIRED_MEETINGS:
            start, end = periods[period]
            meetings = []
            for act in (a for a in mine if a.kind == kind and start <= a.starts_at < end):
                f = await act.figures()  # 三会一课 counts members only (a page's meetings)
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
