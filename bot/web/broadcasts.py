"""推送：进行中的推送、下次发送时间、每次的送达 / 失败 / 不确定；取消（即 /取消广播）。"""

from __future__ import annotations

from aiohttp import web

from bot.web.actions import act
from bot.web.common import officer_of, org_q, page, pager, runtime_of
from models.broadcasts import Broadcast, BroadcastFiring

routes = web.RouteTableDef()
FIRINGS_SHOWN = 5


@routes.get("/broadcasts")
async def broadcasts(request: web.Request) -> web.Response:
    officer = officer_of(request)
    rt = runtime_of(request)
    q = Broadcast.filter(org_q(officer.paths, "org__"), job__isnull=True, status="active")
    p = pager(request, await q.count())
    rows = (
        await q.select_related("org", "created_by")
        .order_by("next_fire_at", "id")
        .offset(p.offset)
        .limit(p.size)
    )
    firings: dict[int, list[BroadcastFiring]] = {b.id: [] for b in rows}
    recent = (
        await BroadcastFiring.filter(broadcast_id__in=list(firings))
        .order_by("-fire_at", "-id")
        .limit(len(rows) * FIRINGS_SHOWN * 4)
    )
    for f in recent:
        if len(firings[f.broadcast_id]) < FIRINGS_SHOWN:
            firings[f.broadcast_id].append(f)
    effective = {
        b.id: rt.broadcaster.effective(b, b.next_fire_at)
        if rt.broadcaster is not None and b.next_fire_at
        else b.next_fire_at
        for b in rows
    }
    return await page(
        request, "broadcasts.html", rows=rows, firings=firings, effective=effective, pager=p
    )


@routes.post(r"/broadcasts/{id:\d+}/cancel")
async def cancel(request: web.Request) -> web.Response:
    return await act(request, f"/取消广播 {request.match_info['id']}", "/admin/broadcasts")
