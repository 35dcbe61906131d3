"""首页：本人负责范围的本月关键数字（与上月比）和图表。"""

from __future__ import annotations

from aiohttp import web

from bot.web.common import page

routes = web.RouteTableDef()


@routes.get("/")
async def overview(request: web.Request) -> web.Response:
    return await page(request, "overview.html")
