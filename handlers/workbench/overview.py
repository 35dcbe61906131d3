"""首页：本人负责范围的本月关键数字（与上月比）和图表，每张图都链接到它背后的列表。"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.web.common import kept, officer_of, page, runtime_of
from handlers.workbench import figures
from models.activities import compliance

routes = web.RouteTableDef()
# 三会一课 is worked out per branch (models.activities.compliance, as /三会一课 does):
# the chart shows the first branches of the scope; the full list is /三会一课 in chat.
CHART_BRANCHES = 8


# compliance() costs a few queries per branch and meeting; its answer changes slowly, so
# it is kept for a few minutes per (branches, hour) in this process.
Report = list[dict[str, Any]]
MEETINGS_SECONDS = 300


async def meetings(branches: list[Any], now: datetime) -> tuple[Report, Report]:
    """This period's and last month's 三会一课 report (models.activities.compliance)."""
    (start, _), _ = figures.months(now)
    return await compliance(branches, now), await compliance(branches, start - timedelta(days=1))


async def numbers(paths: list[str], now: datetime) -> dict[str, Any]:
    """The overview's figures for a scope: KPIs and the request charts' data."""
    counts = await figures.filed(paths, now)
    return {
        "kpis": await figures.kpis(paths, now, counts),
        "per_day": figures.requests_per_day(counts, now),
        "by_category": figures.requests_by_category(counts, now),
        "by_org": await figures.requests_by_org(paths, now),
    }


def held_pct(report: Report) -> float | None:
    items = [i for b in report for i in b["requirements"] if i["status"] != "scheduled"]
    if not items:
        return None
    return round(100 * sum(1 for i in items if i["status"] == "held") / len(items), 1)


@routes.get("/")
async def overview(request: web.Request) -> web.Response:
    officer = officer_of(request)
    paths = officer.paths
    now = runtime_of(request).clock.now()
    branches, branch_count = await figures.branches_in(paths, CHART_BRANCHES)
    key = (tuple(b.id for b in branches), now.strftime("%Y%m%d%H"))
    (this, last), _ = await kept(
        request, ("meetings", *key), MEETINGS_SECONDS, lambda: meetings(branches, now)
    )
    as_of = None
    if branch_count > figures.BIG_SCOPE_BRANCHES:
        found, as_of = await kept(
            request, ("overview", *paths), figures.FIGURES_SECONDS, lambda: numbers(paths, now)
        )
    else:
        found = await numbers(paths, now)
    kpis = dict(found["kpis"])
    kpis["meetings_held_pct"] = (held_pct(this), held_pct(last))
    labels: dict[str, Any] = runtime_of(request).templates.commands.get("request_labels", {})
    categories: dict[str, str] = labels.get("category", {})
    per_day, by_category, by_org = found["per_day"], found["by_category"], found["by_org"]
    charts = {
        "per_day": {
            "title": f"近 {figures.DAYS} 天每天收到的诉求",
            "kind": "line",
            "labels": [d[5:] for d, _ in per_day],
            "values": [n for _, n in per_day],
            "links": [f"/admin/requests?day={d}" for d, _ in per_day],
        },
        "by_category": {
            "title": "本月诉求分类",
            "kind": "pie",
            "labels": [categories.get(c, c) for c, _ in by_category],
            "values": [n for _, n in by_category],
            "links": [f"/admin/requests?category={c}&month=this" for c, _ in by_category],
        },
        "by_org": {
            "title": "本月各组织诉求",
            "kind": "bar",
            "labels": [o.name for o, _ in by_org],
            "values": [n for _, n in by_org],
            "links": [f"/admin/requests?org={o.code}&month=this" for o, _ in by_org],
        },
        "meetings": {
            "title": "本期三会一课按时召开（各支部）",
            "kind": "bar",
            "labels": [b["branch"].name for b in this],
            "values": [held_pct([b]) or 0 for b in this],
            "links": [f"/admin/activities?org={b['branch'].code}" for b in this],
        },
    }
    return await page(
        request,
        "overview.html",
        kpis=kpis,
        charts=charts,
        branch_count=branch_count,
        shown_branches=len(branches),
        as_of=as_of,
    )
