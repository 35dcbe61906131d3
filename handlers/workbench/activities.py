"""活动：一个月的日历和列表；每项的报名、候补、签到；发布、修改、取消（即 /发布活动 等命令）。"""

from __future__ import annotations

import calendar
from datetime import date

from aiohttp import web
from tortoise.expressions import RawSQL

from bot.clock import day_start, local
from bot.web.actions import act, one_line, token
from bot.web.common import officer_of, page, runtime_of
from handlers.workbench.figures import org_q
from models.activities import Activity, Signup
from models.errors import DomainError
from models.people import Organization

routes = web.RouteTableDef()


def month_of(text: str, today: date) -> date:
    try:
        year, month = (int(x) for x in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


async def counts(ids: list[int]) -> dict[int, dict[str, int]]:
    """Sign-ups per activity in one grouped query: confirmed, waitlisted, attended."""
    if not ids:
        return {}
    t = Signup._meta.db_table
    rows = (
        await Signup.filter(activity_id__in=ids)
        .annotate(
            confirmed=RawSQL(f"SUM(CASE WHEN {t}.status = 'confirmed' THEN 1 ELSE 0 END)"),
            waitlisted=RawSQL(f"SUM(CASE WHEN {t}.status = 'waitlisted' THEN 1 ELSE 0 END)"),
            attended=RawSQL(f"COUNT({t}.attended_at)"),
        )
        .group_by("activity_id")
        .values("activity_id", "confirmed", "waitlisted", "attended")
    )
    return {
        int(r["activity_id"]): {k: int(r[k] or 0) for k in ("confirmed", "waitlisted", "attended")}
        for r in rows
    }


@routes.get("/activities")
async def month(request: web.Request) -> web.Response:
    paths = officer_of(request).paths
    today = local(runtime_of(request).clock.now()).date()
    first = month_of(request.query.get("month", ""), today)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    q = Activity.filter(
        org_q(paths, "org__"), starts_at__gte=day_start(first), starts_at__lt=day_start(after)
    )
    code = request.query.get("org", "").upper()
    org = await Organization.filter(code=code).first() if code else None
    if org is not None:
        q = q.filter(org__path__startswith=org.path)
    rows = await q.select_related("org").order_by("starts_at", "id").limit(500)
    by_day: dict[int, list[Activity]] = {}
    for a in rows:
        by_day.setdefault(local(a.starts_at).day, []).append(a)
    before = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return await page(
        request,
        "activities.html",
        rows=rows,
        figures=await counts([a.id for a in rows]),
        weeks=calendar.Calendar().monthdayscalendar(first.year, first.month),
        by_day=by_day,
        first=first,
        prev=before.strftime("%Y-%m"),
        next=after.strftime("%Y-%m"),
        org=org,
        kinds=runtime_of(request).templates.commands.get("activity_labels", {}).get("kind", {}),
    )


@routes.get(r"/activities/{id:\d+}")
async def detail(request: web.Request) -> web.Response:
    rt = runtime_of(request)
    try:
        activity = await Activity.by_number(int(request.match_info["id"]))
        # as /签到码 and /修改活动 do (CallerLike declares settable members; Caller's are read-only)
        activity.check_officer(officer_of(request).caller)  # type: ignore[arg-type]
    except DomainError as err:
        text = rt.refusal(err, "activities")
        return await page(request, "refused.html", status=403, text=text)
    labels = rt.templates.commands.get("activity_labels", {})
    return await page(
        request,
        "activity.html",
        a=activity,
        f=await activity.figures(),
        roster=await activity.roster(),
        kinds=labels.get("kind", {}),
        fields=sorted(set(labels.get("fields", {}))),
    )


def part(value: object) -> str:
    """One field of the one-line /发布活动 (the | separator cannot come from the form)."""
    return one_line(value, 200).replace("|", " ").replace("｜", " ").strip()


@routes.post("/activities/publish")
async def publish(request: web.Request) -> web.Response:
    form = await request.post()
    parts = [part(form.get(k)) for k in ("title", "when", "place", "capacity", "extra")]
    line = " | ".join(p for p in parts[:3]) + "".join(f" | {p}" for p in parts[3:] if p)
    return await act(request, f"/发布活动 {line}", "/admin/activities")


@routes.post(r"/activities/{id:\d+}/{action:edit|cancel}")
async def change(request: web.Request) -> web.Response:
    number, action = request.match_info["id"], request.match_info["action"]
    form = await request.post()
    if action == "edit":
        text = f"/修改活动 {number} {token(form.get('field')) or '-'} {one_line(form.get('value'))}"
    else:
        text = f"/取消活动 {number} {one_line(form.get('reason'))}"
    return await act(request, text.strip(), f"/admin/activities/{number}")
