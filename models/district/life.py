"""A year of 组织生活: activities, sign-ups and attendances, the time bank and points.

Branch meetings (三会一课) sign up the branch's members; community activities
(volunteering, theme days, open days) draw from the community's members and, when open
to everyone, residents. Past activities have their attendances, each with the ledger
rows `Activity.attend` writes (points for attending, hours and points for volunteering).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.clock import local
from models.activities import Activity, PointsEntry, Signup, TimeBankEntry
from models.district.plan import Plan

MEETINGS = ("general_meeting", "committee", "group_meeting", "lecture")
OTHERS = ("volunteer", "theme_day", "open", "other")
TITLES = {
    "general_meeting": "支部党员大会",
    "committee": "支委会",
    "group_meeting": "党小组会",
    "lecture": "党课：学习贯彻党的二十届全会精神",
    "volunteer": "志愿服务：社区环境整治",
    "theme_day": "主题党日：重温入党誓词",
    "open": "开放活动：邻里议事会",
    "other": "社区便民服务日",
}
POINTS_ATTENDANCE = 5
POINTS_PER_HOUR = 10


async def write(plan: Plan, sink: Any) -> None:
    r, now = plan.rng, plan.now
    by_branch: dict[int, list[int]] = {}
    by_community: dict[int, list[int]] = {}
    for pid, branch in plan.branch_of.items():
        by_branch.setdefault(branch.id, []).append(pid)
        by_community.setdefault(branch.parent_id, []).append(pid)
    n_meetings = int(plan.activities * 0.4)
    # Sign-ups per activity so that the year adds up to plan.signups.
    per_meeting = max(1, round(0.8 * plan.members / plan.branches))
    rest = max(plan.activities - n_meetings, 1)
    per_other = max(1, round((plan.signups - n_meetings * per_meeting) / rest))
    signup_id = timebank_id = points_id = 0
    balances: dict[int, Decimal] = {}
    plan.pushes = []  # (key, target, text, purpose, at): written with the other deliveries
    for aid in range(1, plan.activities + 1):
        meeting = aid <= n_meetings
        if meeting:
            org = r.choice(plan.branches_)
            kind, pool, want = r.choice(MEETINGS), by_branch[org.id], per_meeting
            audience, capacity, hours = "org", 0, Decimal("0")
        else:
            org = r.choice(plan.communities_)
            kind = r.choice(OTHERS)
            audience = "everyone" if kind in ("open", "other") else "org"
            pool = by_community.get(org.id, [])
            if audience == "everyone":
                pool = pool + r.sample(plan.resident_ids, min(len(plan.resident_ids), per_other))
            want = per_other
            capacity = 0 if kind == "theme_day" else int(want * r.uniform(0.85, 1.2))
            hours = (
                Decimal(r.choice(("2.0", "3.0", "1.5"))) if kind == "volunteer" else Decimal("0")
            )
        # Through the year, and a month ahead; 09:00–19:00 local (UTC+8).
        ahead = aid % 12 == 0  # one in twelve is still to come
        day = (
            now + timedelta(days=r.uniform(1, 30))
            if ahead
            else now - timedelta(days=r.uniform(0, 330))
        )
        start = day.replace(hour=r.randint(1, 11), minute=0, second=0, microsecond=0)
        end = start + timedelta(hours=2)
        cancelled = r.random() < 0.03
        people = r.sample(pool, min(want, len(pool)))
        past = end <= now
        seats = len(people) if capacity == 0 else capacity
        statuses = ["confirmed" if k < seats else "waitlisted" for k in range(len(people))]
        if not past and "waitlisted" not in statuses:  # a few cancel before it starts
            statuses = [
                "cancelled" if s == "confirmed" and r.random() < 0.04 else s for s in statuses
            ]
        officer = plan.officers_of[org.id][0]
        await sink.add(
            Activity(
                id=aid,
                org_id=org.id,
                created_by_id=officer,
                title=TITLES[kind],
                kind=kind,
                starts_at=start,
                ends_at=end,
                place=f"{org.name.removesuffix('党委')}活动室",
                capacity=capacity,
                audience=audience,
                volunteer_hours=hours,
                signup_deadline=start - timedelta(hours=1),
                status="cancelled" if cancelled else "open",
                cancel_reason="天气原因" if cancelled else "",
                cancelled_at=start - timedelta(days=1) if cancelled else None,
                confirmed_count=statuses.count("confirmed"),
                checkin_code=f"{r.randrange(10000):04d}" if past and not cancelled else None,
                reply_target=(plan.groups_of.get(org.id) or [""])[0],
                created_at=start - timedelta(days=7),
                updated_at=start - timedelta(days=7),
            )
        )
        published = start - timedelta(days=7)
        for group in plan.groups_of.get(org.id, []):
            plan.pushes.append((f"act:{aid}:new", group, TITLES[kind], "activity", published))
        recent = timedelta(0) < now - start < timedelta(days=30)
        for k, pid in enumerate(people):
            if recent and statuses[k] == "confirmed":
                target = plan.target(pid, pid in plan.officer_ids)
                key = f"act:{aid}:remind:{pid}"
                plan.pushes.append((key, target, TITLES[kind], "activity_reminder", start))
            signup_id += 1
            status = statuses[k]
            at = start - timedelta(days=6, minutes=-k)
            attended = past and not cancelled and status == "confirmed" and r.random() < 0.85
            await sink.add(
                Signup(
                    id=signup_id,
                    activity_id=aid,
                    person_id=pid,
                    status=status,
                    active_key=f"{aid}:{pid}" if status != "cancelled" else None,
                    attended_at=start + timedelta(minutes=r.randint(-20, 15)) if attended else None,
                    reply_target=plan.target(pid, pid in plan.officer_ids),
                    created_at=at,
                    updated_at=at,
                    cancelled_at=at if status == "cancelled" else None,
                )
            )
            if not attended:
                continue
            points_id += 1
            await sink.add(
                _points(points_id, pid, org.id, "attendance", POINTS_ATTENDANCE, aid, start)
            )
            if hours > 0:
                timebank_id += 1
                await sink.add(
                    TimeBankEntry(
                        id=timebank_id,
                        person_id=pid,
                        org_id=org.id,
                        hours=hours,
                        kind="credit",
                        activity_id=aid,
                        ref=f"act:{aid}:{pid}",
                        created_at=start,
                    )
                )
                balances[pid] = balances.get(pid, Decimal("0")) + hours
                points_id += 1
                earned = int(hours * POINTS_PER_HOUR)
                await sink.add(_points(points_id, pid, org.id, "volunteer", earned, aid, start))
    await sink.flush()
    # Redemptions (兑换): one in ten volunteers spends an hour, never below zero.
    for pid, have in balances.items():
        if have >= 1 and r.random() < 0.1:
            timebank_id += 1
            await sink.add(
                TimeBankEntry(
                    id=timebank_id,
                    person_id=pid,
                    hours=Decimal("-1.0"),
                    kind="redeem",
                    officer_id=plan.officers_of[plan.branch_of[pid].id][0]
                    if pid in plan.branch_of
                    else None,
                    item="理发服务",
                    created_at=now - timedelta(days=r.uniform(0, 60)),
                )
            )
    # 学习: daily lessons read this month and last (one per person and day).
    seen: set[tuple[int, str]] = set()
    readers = plan.member_ids + plan.resident_ids[: len(plan.resident_ids) // 5]
    while len(seen) < plan.lessons:
        pid = r.choice(readers)
        when = now - timedelta(days=r.uniform(0, 45))
        ref = f"lesson:{local(when).date().isoformat()}"
        if (pid, ref) in seen:
            continue
        seen.add((pid, ref))
        points_id += 1
        await sink.add(
            PointsEntry(
                id=points_id,
                person_id=pid,
                kind="lesson",
                points=1,
                ref=ref,
                created_at=when,
                org_id=plan.branch_of[pid].id if pid in plan.branch_of else None,
            )
        )


def _points(
    pid_: int, person: int, org: int, kind: str, points: int, aid: int, at: datetime
) -> PointsEntry:
    """The points row `Activity.attend` writes for one attendance."""
    return PointsEntry(
        id=pid_,
        person_id=person,
        org_id=org,
        kind=kind,
        points=points,
        ref=f"act:{aid}",
        created_at=at,
    )
