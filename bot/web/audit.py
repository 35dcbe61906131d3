"""审计：党务工作者在聊天和网页上的每一次操作（谁、何时、做了什么、从哪里），可筛选；只增不改。"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from tortoise.expressions import Q, Subquery

from bot.clock import day_start
from bot.web.common import officer_of, org_q, page, pager
from models.people import RoleGrant
from models.web import AuditEntry

routes = web.RouteTableDef()


def scope(request: web.Request) -> Q:
    """Admins see everything; an officer sees what they and the officers of organisations in
    their scope did."""
    officer = officer_of(request)
    if officer.caller.is_admin:
        return Q()
    colleagues = RoleGrant.filter(org_q(officer.paths, "org__"), role="officer").values("person_id")
    return Q(actor_id=officer.person_id) | Q(actor_id__in=Subquery(colleagues))


@routes.get("/audit")
async def audit(request: web.Request) -> web.Response:
    q = scope(request)
    f = {k: request.query.get(k, "").strip() for k in ("who", "action", "via", "from", "to")}
    if f["who"]:
        q &= Q(actor_name__contains=f["who"])
    if f["action"]:
        q &= Q(action=f["action"])
    if f["via"] in ("chat", "web", "cli"):
        q &= Q(via=f["via"])
    for key, op in (("from", "gte"), ("to", "lt")):
        try:
            d = date.fromisoformat(f[key])
        except ValueError:
            f[key] = ""
            continue
        bound: dict[str, Any] = {
            f"at__{op}": day_start(d + timedelta(days=1 if key == "to" else 0))
        }
        q &= Q(**bound)
    total = await AuditEntry.filter(q).count()
    p = pager(request, total)
    rows = await AuditEntry.filter(q).order_by("-at", "-id").offset(p.offset).limit(p.size)
    return await page(request, "audit.html", rows=rows, pager=p, f=f)
