"""台账：每种导出（诉求、党员、组织生活、时间银行）按组织和日期范围下载 xlsx（bot/exports.py）。"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from aiohttp import web

from bot.audit import record_web
from bot.exports import (
    ExportError,
    export_activities,
    export_members,
    export_requests,
    export_timebank,
)
from bot.web.common import address, officer_of, page, runtime_of
from models.people import Organization
from models.requests import local

routes = web.RouteTableDef()
KINDS = ("requests", "members", "activities", "timebank")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def my_orgs(request: web.Request) -> list[Organization]:
    caller = officer_of(request).caller
    ids = [o.id for o in caller.officer_orgs()]
    if caller.is_admin and not ids:
        return await Organization.filter(parent_id__isnull=True).order_by("path")
    return await Organization.filter(id__in=ids).order_by("path")


@routes.get("/ledgers")
async def ledgers(request: web.Request) -> web.Response:
    today = local(runtime_of(request).clock.now()).date()
    return await page(
        request,
        "ledgers.html",
        orgs=await my_orgs(request),
        date_from=today.replace(day=1).isoformat(),
        date_to=today.isoformat(),
        error="",
    )


def day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return default


@routes.get("/ledgers/download")
async def download(request: web.Request) -> web.StreamResponse:
    officer = officer_of(request)
    what = request.query.get("what", "")
    org = await Organization.filter(code=request.query.get("org", "").upper()).first()
    # The same check as any officer command about an organisation.
    if what not in KINDS or org is None or not officer.caller.is_officer_of(org):
        raise web.HTTPForbidden(text="不能导出这个组织的台账。")
    today = local(runtime_of(request).clock.now()).date()
    start = day(request.query.get("from"), today.replace(day=1))
    end = day(request.query.get("to"), today)
    if end < start or end - start > timedelta(days=3660):
        raise web.HTTPBadRequest(text="日期范围不对。")
    templates = runtime_of(request).templates
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ledger.xlsx"
        try:
            if what == "members":
                count = await export_members(org.code, "xlsx", out, templates=templates)
            elif what == "timebank":
                count = await export_timebank(org.code, "xlsx", out, start, end, templates)
            elif what == "activities":
                count = await export_activities(org.code, start, end, "xlsx", out, templates)
            else:
                count = await export_requests(org.code, start, end, "xlsx", out, templates)
        except ExportError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        body = out.read_bytes()
    await record_web(
        officer, address(request), "export", f"{what} {org.code} {start}..{end} {count}"
    )
    name = f"{what}-{org.code}-{start}-{end}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
