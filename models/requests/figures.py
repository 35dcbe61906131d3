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
from models import widecache
from models.people import Organization, orgs_under
from models.requests.events import RequestEvent
from models.requests.request import ServiceRequest
from models.requests.rules import CATEGORY_HOURS, closing_figures, visit_rates

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
    mine = ServiceRequest.filter(org_id__in=orgs_under([org.path]))
    filed = mine.filter(created_at__gte=start, created_at__lt=end)
    closed = mine.filter(closed_at__gte=start, closed_at__lt=end)
    rejected = await mine.filter(rejected_at__gte=start, rejected_at__lt=end).count()
    dialect = connections.get("default").capabilities.dialect
    agg = (
        await closed.annotate(
            n=Count("id"),
            on_time=Count("id", _filter=Q(closed_at__lte=F("due_at"))),
            rated=Count("score"),
            score_sum=Sum("score"),
            hours=RawSQL(AVG_HOURS["postgres" if dialect == "postgres" else "sqlite"]),
        ).values("n", "on_time", "rated", "score_sum", "hours")
    )[0]
    categories: dict[str, dict[str, int]] = {}
    for query, key in ((filed, "received"), (closed, "closed")):
        for row in await query.annotate(k=Count("id")).group_by("category").values("category", "k"):
            categories.setdefault(row["category"], {"received": 0, "closed": 0})[key] = row["k"]
    return {
        "month": local(start),
        "received": sum(v["received"] for v in categories.values()),
        "rejected": rejected,
        **closing_figures(
            agg["n"] or 0, agg["on_time"] or 0, agg["rated"] or 0, agg["score_sum"], agg["hours"]
        ),
        **await visit_figures(org.path, start, end),
        "by_category": [
            (c, categories[c])
            for c in [*CATEGORY_HOURS, *sorted(set(categories) - set(CATEGORY_HOURS))]
            if c in categories
        ],
    }


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
