"""台账：服务注册的台账（router.export(..., workbench=True)）按组织和日期范围下载 xlsx。"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from aiohttp import web

from bot.audit import record_web
from bot.clock import local
from bot.exports import ExportError, export
from bot.registry import Ledger
from bot.web.common import officer_of, page, runtime_of
from models.people import Organization

routes = web.RouteTableDef()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def my_orgs(request: web.Request) -> list[Organization]:
    caller = officer_of(request).caller
    ids = [o.id for o in caller.officer_orgs()]
    if caller.is_admin and not ids:
        return await Organization.filter(parent_id__isnull=True).order_by("path")
    return await Organization.filter(id__in=ids).order_by("path")


def offered(request: web.Request) -> dict[str, Ledger]:
    """The ledgers the services offer on the workbench, by name."""
    found = runtime_of(request).registry.ledgers
    return {name: ledger for name, ledger in found.items() if ledger.workbench}


@routes.get("/ledgers")
async def ledgers(request: web.Request) -> web.Response:
    today = local(runtime_of(request).clock.now()).date()
    return await page(
        request,
        "ledgers.html",
        ledgers=list(offered(request).values()),
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
    ledger = offered(request).get(what)
    if ledger is None or org is None or not officer.caller.is_officer_of(org):
        raise web.HTTPForbidden(text="不能导出这个组织的台账。")
    today = local(runtime_of(request).clock.now()).date()
    start = day(request.query.get("from"), today.replace(day=1))
    end = day(request.query.get("to"), today)
    if end < start or end - start > timedelta(days=3660):
        raise web.HTTPBadRequest(text="日期范围不对。")
    templates = runtime_of(request).templates
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ledger.xlsx"
        dates = (start, end) if ledger.periods else (None, None)
        try:
            count = await export(ledger, org.code, "xlsx", out, *dates, templates=templates)
        except ExportError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        body = out.read_bytes()
    await record_web(request, officer, "export", f"{what} {org.code} {start}..{end} {count}")
    name = f"{what}-{org.code}-{start}-{end}.xlsx"
    return web.Response(
        body=body,
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
