"""台账导出：某组织（含下级）在一段日期内提交的诉求，每张一行，附全过程。

`lianxin export requests --org CODE --from DATE --to DATE --format xlsx|csv`.
Dates are Asia/Shanghai calendar days, both ends included. Headers and labels
come from templates/zh_CN/commands.toml ([request_labels]).
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.templates import Templates
from models.people import Organization
from models.requests import ServiceRequest, day_start, local

FORMATS = ("xlsx", "csv")


class ExportError(Exception):
    """One line for the operator (unknown organisation, bad format)."""


def _when(dt: Any) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""


async def request_rows(
    org_code: str, date_from: date, date_to: date, templates: Templates | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows, oldest first."""
    labels = (templates or Templates()).commands.get("request_labels", {})
    head = labels["export"]
    org = await Organization.filter(code=org_code.upper()).first()
    if org is None:
        raise ExportError(f"unknown organisation code {org_code!r}")
    start, end = day_start(date_from), day_start(date_to + timedelta(days=1))
    reqs = (
        await ServiceRequest.filter(
            org__path__startswith=org.path, created_at__gte=start, created_at__lt=end
        )
        .select_related("org", "assignee_org", "handler", "requester")
        .order_by("created_at", "id")
    )
    columns = [k for k in head if k not in ("yes", "no")]
    rows = []
    for r in reqs:
        events = await r.history()
        history = "\n".join(
            " ".join(
                part
                for part in (
                    _when(e.created_at),
                    labels["action"].get(e.action, e.action),
                    e.actor.name if e.actor else "",
                    e.note,
                )
                if part
            )
            for e in events
        )
        values = {
            "number": r.number,
            "org": r.org.name,
            "category": labels["category"].get(r.category, r.category),
            "content": r.content,
            "place": r.place,
            "contact": r.contact,
            "requester": r.requester.name,
            "status": labels["status"].get(r.status, r.status),
            "created_at": _when(r.created_at),
            "due_at": _when(r.due_at),
            "handler": r.handler.name if r.handler else "",
            "accepted_at": _when(r.accepted_at),
            "assignee_org": r.assignee_org.name if r.assignee_org else "",
            "closed_at": _when(r.closed_at),
            "result": r.result or "",
            "overdue": head["yes"] if r.is_overdue() else head["no"],
            "score": r.score if r.score is not None else "",
            "rating_comment": r.rating_comment or "",
            "urge_count": r.urge_count,
            "history": history,
        }
        rows.append([values[k] for k in columns])
    return [head[k] for k in columns], rows


async def export_requests(
    org_code: str,
    date_from: date,
    date_to: date,
    fmt: str,
    out: Path,
    templates: Templates | None = None,
) -> int:
    """Write the ledger to `out`; returns the number of requests written."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if date_to < date_from:
        raise ExportError("--to is before --from")
    header, rows = await request_rows(org_code, date_from, date_to, templates)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        # utf-8-sig: Excel opens it with the Chinese intact.
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
    else:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font

        wb = Workbook()
        ws = wb.active
        ws.title = "requests"
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
        wrap = Alignment(wrap_text=True, vertical="top")
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = wrap
        ws.freeze_panes = "A2"
        wb.save(out)
    return len(rows)
