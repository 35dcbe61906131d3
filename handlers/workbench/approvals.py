"""待办：待确认的党员登记和待批准的组织关系接转；确认 / 驳回（写明原因）就是 /确认 /驳回 等命令。"""

from __future__ import annotations

from aiohttp import web

from bot.web.actions import act, one_line
from bot.web.common import officer_of, page
from handlers.workbench.figures import org_q
from models.checkin import MemberRegistration, TransferRequest

routes = web.RouteTableDef()
SHOWN = 50
COMMANDS = {
    ("registration", "confirm"): "确认",
    ("registration", "decline"): "驳回",
    ("transfer", "approve"): "批准转接",
    ("transfer", "reject"): "驳回转接",
}


@routes.get("/approvals")
async def approvals(request: web.Request) -> web.Response:
    paths = officer_of(request).paths
    # Registrations go to the organisation they name (/待确认); transfers to the sending side.
    regs = MemberRegistration.filter(org_q(paths, "org__"), status="pending")
    transfers = TransferRequest.filter(org_q(paths, "from_org__"), status="pending")
    return await page(
        request,
        "approvals.html",
        regs=await regs.select_related("org", "home_org", "person")
        .order_by("created_at", "id")
        .limit(SHOWN),
        reg_total=await regs.count(),
        transfers=await transfers.select_related("from_org", "to_org", "person")
        .order_by("created_at", "id")
        .limit(SHOWN),
        transfer_total=await transfers.count(),
    )


@routes.post(r"/approvals/{kind:registration|transfer}/{id:\d+}/{action:[a-z]+}")
async def decide(request: web.Request) -> web.Response:
    kind, number, action = (request.match_info[k] for k in ("kind", "id", "action"))
    command = COMMANDS.get((kind, action))
    if command is None:
        raise web.HTTPNotFound()
    form = await request.post()
    text = f"/{command} {number} {one_line(form.get('reason'))}".strip()
    return await act(request, text, "/admin/approvals")
