"""导入：组织、党员、群绑定的 xlsx / csv；先校验，有错不写；可试导入；下载模板。"""

from __future__ import annotations

from aiohttp import web

from bot.audit import record_web
from bot.tabular import TableError, describe, describe_all, template_xlsx
from bot.web.common import officer_of, page, runtime_of
from models.people import Organization
from models.roster import COLUMNS, TITLES, import_roster

routes = web.RouteTableDef()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def kind_of(value: object) -> str:
    return value if isinstance(value, str) and value in COLUMNS else "members"


@routes.get("/import")
async def import_page(request: web.Request) -> web.Response:
    kind = kind_of(request.query.get("kind"))
    return await page(request, "import.html", kind=kind, columns=COLUMNS, report=None, lines=[])


@routes.get("/import/template.xlsx")
async def template(request: web.Request) -> web.Response:
    kind = kind_of(request.query.get("kind"))
    return web.Response(
        body=template_xlsx(COLUMNS[kind], TITLES[kind]),
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="lianxin-{kind}-template.xlsx"'},
    )


@routes.post("/import")
async def upload(request: web.Request) -> web.Response:
    officer = officer_of(request)
    templates = runtime_of(request).templates
    form = await request.post()
    kind = kind_of(form.get("kind"))
    upload = form.get("file")
    dry_run = form.get("dry_run") == "1"
    caller = officer.caller

    def may(org: Organization | None) -> bool:
        # The same check as chat: officer of the organisation or above it; top level: admins.
        return caller.is_officer_of(org) if org is not None else caller.is_admin

    data = upload.file.read() if isinstance(upload, web.FileField) else b""
    name = upload.filename if isinstance(upload, web.FileField) else ""
    try:
        report = await import_roster(
            kind,
            data,
            dry_run=dry_run,
            may=may,
            by=f"web:{officer.session.user_key}",
            tags=runtime_of(request).config.grids.tags,
        )
    except TableError as exc:
        return await page(
            request,
            "import.html",
            status=422,
            kind=kind,
            columns=COLUMNS,
            report=None,
            lines=[describe(exc.error, templates)],
        )
    if report.written:
        detail = f"{kind} {name} " + " ".join(f"{k}={v}" for k, v in sorted(report.counts.items()))
        await record_web(request, officer, "import", detail)
    summary = templates.render(
        "import_report", report=report, lines=describe_all(report.errors, templates)
    )
    return await page(
        request,
        "import.html",
        status=422 if report.errors else 200,
        kind=kind,
        columns=COLUMNS,
        report=report,
        summary=summary.splitlines()[0],
        lines=describe_all(report.errors, templates),
    )
