"""首页的数字：每个都是一条 COUNT / SUM / AVG 查询（不把行读进内存），限定在党务工作者的范围内。

Months are calendar months of `[bot] timezone` (bot.clock.month_range). The
request figures mean what /公开 means (models.requests.monthly_figures): received =
filed in the month, closed = closed in the month, on time = closed by the due time,
average hours = filing to closing of those closed, satisfaction = the rated share and
mean score of those closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.expressions import F, Q, RawSQL, Subquery
from tortoise.functions import Count

from bot.clock import day_start, local, month_range, zone
from bot.web.common import org_q
from models.activities import Activity, Signup
from models.broadcasts import BroadcastFiring
from models.checkin import CheckIn
from models.grids.ladder import ContactLadder
from models.grids.ladder import scope_q as people_scope_q
from models.people import Organization
from models.requests import OPEN_STATUSES, ServiceRequest, scope_q

DAYS = 30
# A scope of more branches than this (a district): figures that read most of its rows are
# kept FIGURES_SECONDS per process (bot.web.common.kept) and the page says when they were
# worked out (数据截至 HH:MM).
BIG_SCOPE_BRANCHES = 200
FIGURES_SECONDS = 300


def _pg() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


def _hours(table: str, a: str, b: str) -> str:
    if _pg():
        return f"EXTRACT(EPOCH FROM ({table}.{b} - {table}.{a})) / 3600"
    return f"(julianday({table}.{b}) - julianday({table}.{a})) * 24"


def _local(table: str, column: str, now: datetime, month: bool = False) -> str:
    """The calendar day (YYYY-MM-DD) or month (YYYY-MM) of a stored UTC time on the
    configured clock. SQLite adds the zone's offset at `now` (exact for a zone without DST,
    as China's)."""
    if _pg():
        pattern = "YYYY-MM" if month else "YYYY-MM-DD"
        return f"to_char({table}.{column} AT TIME ZONE '{zone().key}', '{pattern}')"
    minutes = int((local(now).utcoffset() or timedelta(0)).total_seconds() // 60)
    pattern = "%Y-%m" if month else "%Y-%m-%d"
    return f"strftime('{pattern}', {table}.{column}, '{minutes:+d} minutes')"


def months(now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(this month, last month) as [start, end) in UTC."""
    this = month_range(now)
    last = month_range(this[0] - timedelta(days=1))
    return this, last


def month_keys(now: datetime) -> tuple[str, str]:
    """This month and last month as YYYY-MM on the configured clock."""
    (s, _), (ps, _) = months(now)
    return local(s).strftime("%Y-%m"), local(ps).strftime("%Y-%m")


Filed = dict[tuple[str, str], int]


async def filed(paths: list[str], now: datetime) -> Filed:
    """Requests filed since last month began (or the chart's first day, if earlier), per
    (local day, category): one pass over the scope feeds the received figures, the
    per-day chart and the category chart."""
    (_, _), (ps, _) = months(now)
    first = day_start(local(now).date() - timedelta(days=DAYS - 1))
    rows = (
        await ServiceRequest.filter(scope_q(paths), created_at__gte=min(ps, first))
        .annotate(day=RawSQL(_local(ServiceRequest._meta.db_table, "created_at", now)))
        .annotate(n=Count("id"))
        .group_by("day", "category")
        .values("day", "category", "n")
    )
    return {(str(r["day"]), str(r["category"])): int(r["n"]) for r in rows}


async def closed_months(paths: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Requests closed last month and this month, per local month (YYYY-MM), in one pass:
    how many, on time, mean hours from filing, rated, mean score."""
    (_, e), (ps, _) = months(now)
    t = ServiceRequest._meta.db_table
    rows = (
        await ServiceRequest.filter(scope_q(paths), closed_at__gte=ps, closed_at__lt=e)
        .annotate(month=RawSQL(_local(t, "closed_at", now, month=True)))
        .annotate(
            n=RawSQL("COUNT(*)"),
            on_time=RawSQL(f"SUM(CASE WHEN {t}.closed_at <= {t}.due_at THEN 1 ELSE 0 END)"),
            hours=RawSQL(f"AVG({_hours(t, 'created_at', 'closed_at')})"),
            rated=RawSQL(f"COUNT({t}.score)"),
            score=RawSQL(f"AVG({t}.score)"),
        )
        .group_by("month")
        .values("month", "n", "on_time", "hours", "rated", "score")
    )
    return {str(r["month"]): r for r in rows}


def request_month(counts: Filed, closed: dict[str, dict[str, Any]], month: str) -> dict[str, Any]:
    r = closed.get(month, {})
    n = int(r.get("n") or 0)
    rated = int(r.get("rated") or 0)
    return {
        "received": sum(v for (day, _), v in counts.items() if day.startswith(month)),
        "closed": n,
        "on_time_pct": round(100 * int(r["on_time"] or 0) / n, 1) if n else None,
        "avg_hours": round(float(r["hours"]), 1) if n and r.get("hours") is not None else None,
        "rated_pct": round(100 * rated / n, 1) if n else None,
        "avg_score": round(float(r["score"]), 2) if rated else None,
    }


async def activity_months(paths: list[str], now: datetime) -> dict[str, dict[str, int]]:
    """Per local month (YYYY-MM) of last month and this one, by start: activities held
    (open and ended) and attendances at any of them; the sign-ups in one grouped pass."""
    (_, e), (ps, _) = months(now)
    acts = Activity.filter(org_q(paths, "org__"), starts_at__gte=ps, starts_at__lt=e)
    rows = await acts.values("id", "status", "starts_at", "ends_at")
    attended = (
        await Signup.filter(activity_id__in=Subquery(acts.values("id")), attended_at__isnull=False)
        .annotate(n=Count("id"))
        .group_by("activity_id")
        .values("activity_id", "n")
    )
    per_activity = {int(r["activity_id"]): int(r["n"]) for r in attended}
    found: dict[str, dict[str, int]] = {}
    for a in rows:
        month = found.setdefault(local(a["starts_at"]).strftime("%Y-%m"), {"held": 0, "n": 0})
        ended = a["ends_at"] is not None and a["ends_at"] <= now
        month["held"] += a["status"] == "open" and ended
        month["n"] += per_activity.get(a["id"], 0)
    return found


async def per_month(query: Any, column: str, now: datetime, **sums: str) -> dict[str, Any]:
    """`query`'s rows of last month and this month (by `column`) per local month: how many
    (n) and the SUM of each of `sums`' columns."""
    (_, e), (ps, _) = months(now)
    t = query.model._meta.db_table
    extra = {k: RawSQL(f"SUM({t}.{c})") for k, c in sums.items()}
    rows = (
        await query.filter(**{f"{column}__gte": ps, f"{column}__lt": e})
        .annotate(month=RawSQL(_local(t, column, now, month=True)))
        .annotate(n=RawSQL(f"COUNT({t}.id)"), **extra)
        .group_by("month")
        .values("month", "n", *extra)
    )
    return {str(r["month"]): r for r in rows}


async def other_months(paths: list[str], now: datetime) -> dict[str, dict[str, int]]:
    """Flow members in / out, new lost contact, broadcasts sent / failed, per local month
    (YYYY-MM) of last month and this month: one grouped query each."""
    here = CheckIn.filter(org_q(paths, "org__"))
    lost = ContactLadder.filter(people_scope_q(paths, "person__"), stage__in=("suspected", "lost"))
    fired = BroadcastFiring.filter(org_q(paths, "broadcast__org__"))
    found = {
        "flow_in": await per_month(here, "checked_in_at", now),
        "flow_out": await per_month(here, "left_at", now),
        "lost": await per_month(lost, "since", now),
    }
    sums = await per_month(fired, "fire_at", now, sent="sent", failed="failed")
    out: dict[str, dict[str, int]] = {}
    for key in month_keys(now):
        month = {k: int(v.get(key, {}).get("n") or 0) for k, v in found.items()}
        fire = sums.get(key, {})
        month["broadcasts_sent"] = int(fire.get("sent") or 0)
        month["broadcasts_failed"] = int(fire.get("failed") or 0)
        out[key] = month
    return out


async def kpis(paths: list[str], now: datetime, counts: Filed) -> dict[str, tuple[Any, Any]]:
    """name → (this month, last month); `counts` from filed()."""
    closed = await closed_months(paths, now)
    acts = await activity_months(paths, now)
    others = await other_months(paths, now)
    found = []
    for key in month_keys(now):
        a = acts.get(key, {})
        found.append(
            {
                **request_month(counts, closed, key),
                "activities_held": a.get("held", 0),
                "attended": a.get("n", 0),
                **others[key],
            }
        )
    this, last = found
    return {k: (this[k], last[k]) for k in this}


def requests_per_day(counts: Filed, now: datetime) -> list[tuple[str, int]]:
    """Requests filed on each of the last 30 local days, oldest first (zeros included)."""
    first = local(now).date() - timedelta(days=DAYS - 1)
    per_day: dict[str, int] = {}
    for (day, _), n in counts.items():
        per_day[day] = per_day.get(day, 0) + n
    days = [(first + timedelta(days=i)).isoformat() for i in range(DAYS)]
    return [(d, per_day.get(d, 0)) for d in days]


def requests_by_category(counts: Filed, now: datetime) -> list[tuple[str, int]]:
    """This month's requests per category, largest first."""
    this_key, _ = month_keys(now)
    totals: dict[str, int] = {}
    for (day, category), n in counts.items():
        if day.startswith(this_key):
            totals[category] = totals.get(category, 0) + n
    return sorted(sorted(totals.items()), key=lambda x: -x[1])


async def requests_by_org(paths: list[str], now: datetime) -> list[tuple[Organization, int]]:
    """This month's requests per organisation one level below each scope root (or the root
    itself when it has none), largest first; counted per org_id, rolled up by path."""
    (s, e), _ = months(now)
    rows = (
        await ServiceRequest.filter(scope_q(paths), created_at__gte=s, created_at__lt=e)
        # SQLite groups by +org_id, not org_id: it would read the (org_id, created_at)
        # index in org order for the grouping, the whole district's month (30 ms for a
        # community), instead of looking each org's and each assignee's month up.
        .annotate(org=RawSQL("org_id" if _pg() else "+org_id"), n=Count("id"))
        .group_by("org")
        .values("org", "n")
    )
    if not rows:
        return []
    counts = {int(r["org"]): int(r["n"]) for r in rows}
    orgs = {o.id: o for o in await Organization.filter(id__in=list(counts))}
    roots = [p for p in paths if p != "/"]
    tops: dict[int, Organization] = {}
    totals: dict[int, int] = {}
    wanted: dict[int, int] = {}  # org id → the id of the organisation it rolls up to
    for org_id, org in orgs.items():
        ids = [int(x) for x in org.path.strip("/").split("/")]
        root_depth = next(
            (len(r.strip("/").split("/")) for r in roots if org.path.startswith(r)), 0
        )
        wanted[org_id] = ids[min(root_depth, len(ids) - 1)]
    for o in await Organization.filter(id__in=sorted(set(wanted.values()))):
        tops[o.id] = o
    for org_id, top in wanted.items():
        totals[top] = totals.get(top, 0) + counts[org_id]
    return sorted(((tops[k], v) for k, v in totals.items()), key=lambda x: -x[1])[:15]


async def branches_in(paths: list[str], limit: int) -> tuple[list[Organization], int]:
    q = Organization.filter(org_q(paths), kind="branch")
    return await q.order_by("path").limit(limit), await q.count()


async def is_big(paths: list[str]) -> bool:
    """More branches than BIG_SCOPE_BRANCHES in scope."""
    count = await Organization.filter(org_q(paths), kind="branch").count()
    return count > BIG_SCOPE_BRANCHES


def overdue_q(now: datetime) -> Q:
    """Open requests past their due time, as ServiceRequest.is_overdue reads it (a paused
    clock stands still), for the queue's 超时 filter."""
    return Q(status__in=OPEN_STATUSES, due_at__lt=now) & (
        Q(paused_at__isnull=True) | Q(due_at__lt=F("paused_at"))
    )
