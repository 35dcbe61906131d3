"""工单：队列（按状态、类别、组织、超时、我的筛选，剩余时间），详情与全过程，接单、转单、回单、退回。"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from bot.clock import day_start
from bot.web.actions import act, one_line, token
from bot.web.common import officer_of, page, paged, pager, runtime_of
from handlers.workbench.figures import months, org_q, overdue_q
from models.errors import DomainError
from models.people import Organization
from models.requests import (
    FORWARD_KINDS,
    NUMBER_RE,
    OPEN_STATUSES,
    STATUSES,
    ServiceRequest,
    scope_q,
)

routes = web.RouteTableDef()
COMMANDS = {"accept": "接单", "forward": "转单", "close": "回单", "reject": "退回"}


async def filtered(request: web.Request) -> tuple[Q, dict[str, str]]:
    """The queue's filters as one Q inside the officer's scope, and the filters as given."""
    officer = officer_of(request)
    q = scope_q(officer.paths)
    f = {k: request.query.get(k, "") for k in ("status", "category", "org", "overdue", "mine")}
    f.update(day=request.query.get("day", ""), month=request.query.get("month", ""))
    now = runtime_of(request).clock.now()
    if f["status"] == "open" or not any(f.values()):
        f["status"] = f["status"] or "open"
        q &= Q(status__in=OPEN_STATUSES)
    elif f["status"] in STATUSES:
        q &= Q(status=f["status"])
    if f["category"]:
        q &= Q(category=f["category"])
    if f["org"]:
        org = await Organization.filter(code=f["org"].upper()).first()
        q &= org_q([org.path], "org__") if org else Q(pk__in=[])
    if f["overdue"] == "1":
        q &= overdue_q(now)
    if f["mine"] == "1":
        q &= Q(handler_id=officer.person_id)
    if f["day"]:
        try:
            day = date.fromisoformat(f["day"])
            q &= Q(
                created_at__gte=day_start(day),
                created_at__lt=day_start(day.fromordinal(day.toordinal() + 1)),
            )
        except ValueError:
            f["day"] = ""
    if f["month"] == "this":
        (start, end), _ = months(now)
        field = "closed_at" if f["status"] == "closed" else "created_at"
        month: dict[str, Any] = {f"{field}__gte": start, f"{field}__lt": end}
        q &= Q(**month)
    return q, f


@routes.get("/requests")
async def queue(request: web.Request) -> web.Response:
    q, f = await filtered(request)
    total = await ServiceRequest.filter(q).count()
    p = pager(request, total)
    order = ("due_at", "id")
    rows = await paged(ServiceRequest.filter(q), p, order, "org", "handler", "assignee_org")
    return await page(
        request,
        "requests.html",
        rows=rows,
        pager=p,
        f=f,
        statuses=STATUSES,
        now=runtime_of(request).clock.now(),
    )


async def in_scope(request: web.Request) -> ServiceRequest:
    """The request, if this officer may act on it (the same check as /工单 编号)."""
    number = request.match_info["number"]
    req = await ServiceRequest.by_number(number)
    # CallerLike (models.requests) declares settable members; Caller's are read-only.
    req.check_officer(officer_of(request).caller)  # type: ignore[arg-type]
    return req


@routes.get(r"/requests/{number:Q\d{10}}")
async def detail(request: web.Request) -> web.Response:
    try:
        req = await in_scope(request)
    except DomainError as err:
        text = runtime_of(request).refusal(err, "requests")
        return await page(request, "refused.html", status=403, text=text)
    targets = await Organization.filter(kind__in=FORWARD_KINDS).order_by("path").limit(200)
    await req.fetch_related("requester")
    return await page(
        request,
        "request.html",
        req=req,
        events=await req.history(),
        targets=targets,
        now=runtime_of(request).clock.now(),
    )


@routes.post(r"/requests/{number:Q\d{10}}/{action:accept|forward|close|reject}")
async def action(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    assert NUMBER_RE.match(number)
    name = request.match_info["action"]
    form = await request.post()
    words = [f"/{COMMANDS[name]}", number]
    if name == "forward":
        words += [token(form.get("org")) or "-", one_line(form.get("note"))]
    elif name in ("close", "reject"):
        words.append(one_line(form.get("text")))
    return await act(request, " ".join(w for w in words if w), f"/admin/requests/{number}")
