"""台账导出：某组织（含下级）在一段日期内提交的诉求，每张一行，附全过程；党员台账。

`lianxin export requests --org CODE --from DATE --to DATE --format xlsx|csv`.
`export_members(org_code, fmt, out, full_phone=False)`: 党员台账（报到、离开、最后联系）.
Dates are Asia/Shanghai calendar days, both ends included. Headers and labels
come from templates/zh_CN/commands.toml ([request_labels]).
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.templates import Templates
from models.checkin import CheckIn, mask_phone
from models.people import Organization, Person
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
    write_table(header, rows, fmt, out, "requests")
    return len(rows)


def write_table(header: list[str], rows: list[list[Any]], fmt: str, out: Path, title: str) -> None:
    """A ledger as csv (utf-8-sig) or xlsx (bold frozen header, wrapped cells)."""
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
        ws.title = title
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


async def member_rows(
    org_code: str, full_phone: bool = False, templates: Templates | None = None
) -> tuple[list[str], list[list[Any]]]:
    """党员台账: one row per check-in to the organisation (and its subtree), then one
    row per confirmed member whose branch is there and who has no such check-in."""
    labels = (templates or Templates()).commands.get("checkin_labels", {})
    head = labels["export"]
    org = await Organization.filter(code=org_code.upper()).first()
    if org is None:
        raise ExportError(f"unknown organisation code {org_code!r}")

    def person_values(p: Person) -> dict[str, Any]:
        return {
            "name": p.name if p.real_name else "",
            "phone": (p.phone or "") if full_phone else mask_phone(p.phone),
            "home_branch": p.home_org.name if p.home_org else p.home_branch,
            "last_contact": _when(p.last_seen_at),
        }

    checkins = (
        await CheckIn.filter(org__path__startswith=org.path)
        .select_related("person", "person__home_org", "org")
        .order_by("checked_in_at", "id")
    )
    rows = []
    seen: set[int] = set()
    for c in checkins:
        seen.add(c.person_id)
        values = person_values(c.person) | {
            "local_org": c.org.name,
            "kind": labels["kind"].get(c.kind, c.kind),
            "checked_in_at": _when(c.checked_in_at),
            "left_at": _when(c.left_at),
            "destination": c.destination,
        }
        rows.append([values[k] for k in head])
    members = (
        await Person.filter(
            home_org__path__startswith=org.path,
            relation_status__in=("registered", "unregistered"),
        )
        .select_related("home_org", "local_org")
        .order_by("id")
    )
    for p in members:
        if p.id in seen:
            continue
        values = person_values(p) | {
            "local_org": p.local_org.name if p.local_org else "",
            "kind": "",
            "checked_in_at": "",
            "left_at": "",
            "destination": "",
        }
        rows.append([values[k] for k in head])
    return [head[k] for k in head], rows


async def export_members(
    org_code: str,
    fmt: str,
    out: Path,
    full_phone: bool = False,
    templates: Templates | None = None,
) -> int:
    """Write the members' ledger to `out`; phones masked unless `full_phone`.
    Returns the number of rows written."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    header, rows = await member_rows(org_code, full_phone, templates)
    write_table(header, rows, fmt, out, "members")
    return len(rows)
