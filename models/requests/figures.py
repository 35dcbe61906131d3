"""党务公开：本月诉求办理情况（受理、办结、按时办结率、平均用时、满意度、回访率、分类）。

Counted and averaged by the database (a district's month is tens of thousands of
requests); the rates are rules.closing_figures and rules.visit_rates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import F, Q, RawSQL
from tortoise.functions import Count, Sum

from bot.clock import local, month_range
from bot.db import placeholders, prefix_match, prefix_values
from models import widecache
from models.people import Organization, orgs_under
from models.requests.events import RequestEvent
from models.requests.request import ServiceRequest
from models.requests.rules import (
    CATEGORY_HOURS,
    SATISFIED,
    closing_figures,
    visit_rates,
    visit_shares,
)

# Mean hours from filing to closing, per dialect (stored times are UTC).
AVG_HOURS = {
    "sqlite": "AVG((julianday(closed_at) - julianday(created_at)) * 24)",
    "postgres": "AVG(EXTRACT(EPOCH FROM (closed_at - created_at)) / 3600)",
}


async def monthly_figures(org: Organization, *, now: datetime) -> dict[str, Any]:
    """This month's figures for `org` and its subtree (a month on the configured clock).

    received: filed this month · rejected: rejected this month · closed: closed this month
    · on_time_pct: of those closed, share closed by the due time · avg_hours: mean hours
    from filing to closing of those closed · avg_score: mean score of those closed that
    were rated · by_category: received / closed per category. A street's or the
    district's figures are reused for a minute (models/widecache.py).
    """
    key = ("requests", org.path, month_range(now)[0])
    return await widecache.figures(key, [org.path], now, lambda: _monthly(org, now))


async def _monthly(org: Organization, now: datetime) -> dict[str, Any]:
    start, end = month_range(now)
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        return await _monthly_postgres(conn, org, start, end)
    mine = ServiceRequest.filter(org_id__in=orgs_under([org.path]))
    filed = mine.filter(created_at__gte=start, created_at__lt=end)
    closed = mine.filter(closed_at__gte=start, closed_at__lt=end)
    rejected = await mine.filter(rejected_at__gte=start, rejected_at__lt=end).count()
    agg = (
        await closed.annotate(
            n=Count("id"),
            on_time=Count("id", _filter=Q(closed_at__lte=F("due_at"))),
            rated=Count("score"),
            score_sum=Sum("score"),
            hours=RawSQL(AVG_HOURS["sqlite"]),
        ).values("n", "on_time", "rated", "score_sum", "hours")
    )[0]
    categories: dict[str, dict[str, int]] = {}
    for query, key in ((filed, "received"), (closed, "closed")):
        for row in await query.annotate(k=Count("id")).group_by("category").values("category", "k"):
            categories.setdefault(row["category"], {"received": 0, "closed": 0})[key] = row["k"]
    return _figures(start, categories, rejected, agg, await visit_figures(org.path, start, end))


def _figures(
    start: datetime,
    categories: dict[str, dict[str, int]],
    rejected: int,
    agg: dict[str, Any],
    visits: dict[str, Any],
) -> dict[str, Any]:
    return {
        "month": local(start),
        "received": sum(v["received"] for v in categories.values()),
        "rejected": rejected,
        **closing_figures(
            agg["n"] or 0, agg["on_time"] or 0, agg["rated"] or 0, agg["score_sum"], agg["hours"]
        ),
        **visits,
        "by_category": [
            (c, categories[c])
            for c in [*CATEGORY_HOURS, *sorted(set(categories) - set(CATEGORY_HOURS))]
            if c in categories
        ],
    }


# PostgreSQL: every figure in one written-out statement (a member's /公开 in the branch's
# group is asked often; five statements spent more time being planned than run). The
# month's requests of the subtree by category, with the whole month as the grouping
# set () (its aggregates are those of the separate queries on SQLite), and the visits.
_MONTH_SQL = """WITH o AS (SELECT id FROM organization WHERE {subtree}),
v AS (SELECT e.action, e.note FROM request_event e JOIN service_request q ON q.id = e.request_id
 WHERE q.org_id IN (SELECT id FROM o) AND e.action IN ({visit}, {visit_none})
 AND e.created_at >= {start} AND e.created_at < {end})
SELECT GROUPING(category) AS whole, category,
 COUNT(*) FILTER (WHERE created_at >= {start} AND created_at < {end}) AS received,
 COUNT(*) FILTER (WHERE {closed}) AS n,
 COUNT(*) FILTER (WHERE rejected_at >= {start} AND rejected_at < {end}) AS rejected,
 COUNT(*) FILTER (WHERE {closed} AND closed_at <= due_at) AS on_time,
 COUNT(score) FILTER (WHERE {closed}) AS rated,
 SUM(score) FILTER (WHERE {closed}) AS score_sum,
 {hours} FILTER (WHERE {closed}) AS hours,
 (SELECT COUNT(*) FROM v) AS visits_ended,
 (SELECT COUNT(*) FROM v WHERE action = {visit}) AS visits_answered,
 (SELECT COUNT(*) FROM v WHERE action = {visit} AND note IN ({satisfied})) AS visits_satisfied
FROM service_request WHERE org_id IN (SELECT id FROM o) AND (
 (created_at >= {start} AND created_at < {end}) OR ({closed})
 OR (rejected_at >= {start} AND rejected_at < {end}))
GROUP BY GROUPING SETS ((category), ())"""


# Below a street the statement carries the fixed values (the visit actions, the
# satisfied notes) written in, not as parameters: PostgreSQL then keeps one plan for it
# instead of planning every call (~0.7 of ~0.9 ms for a branch, asked by every member).
# A street's and the district's keep them as parameters and are planned per call for
# their size (the kept plan ran 2-3x slower there); widecache reuses those for a minute.
_PLANNED_PER_CALL = ("district", "street")


def _fixed(word: str) -> str:
    """A fixed word of the rules as an SQL literal (never a value from a message)."""
    if not word.replace("_", "").isalnum() or not word.isascii():
        raise ValueError(f"not a fixed word: {word!r}")
    return f"'{word}'"


async def _monthly_postgres(
    conn: Any, org: Organization, start: datetime, end: datetime
) -> dict[str, Any]:
    fixed = ["visit", "visit_none", *SATISFIED]
    values: list[Any] = [*prefix_values(org.path), start, end]
    if org.kind in _PLANNED_PER_CALL:
        values += fixed
        marks = placeholders(conn, len(values))
    else:
        marks = placeholders(conn, len(values)) + [_fixed(w) for w in fixed]
    s, e, visit, visit_none, *satisfied = marks[3:]
    sql = _MONTH_SQL.format(
        subtree=prefix_match("path", marks[:3]),
        start=s,
        end=e,
        visit=visit,
        visit_none=visit_none,
        satisfied=",".join(satisfied),
        closed=f"closed_at >= {s} AND closed_at < {e}",
        hours=AVG_HOURS["postgres"],
    )
    categories: dict[str, dict[str, int]] = {}
    whole: dict[str, Any] = {}
    for row in await conn.execute_query_dict(sql, values):
        if row["whole"]:
            whole = row
        elif row["received"] or row["n"]:
            categories[row["category"]] = {"received": row["received"], "closed": row["n"]}
    visits = visit_shares(
        whole["visits_ended"], whole["visits_answered"], whole["visits_satisfied"]
    )
    return _figures(start, categories, whole["rejected"], whole, visits)


async def visit_figures(org_path: str, start: datetime, end: datetime) -> dict[str, Any]:
    """回访率 and satisfaction of the return visits that ended in [start, end), from the
    history (a request reopened and closed again has two visits)."""
    events = await RequestEvent.filter(
        action__in=("visit", "visit_none"),
        created_at__gte=start,
        created_at__lt=end,
        request__org__path__startswith=org_path,
    ).values_list("action", "note")
    return visit_rates(events)
