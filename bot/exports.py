"""台账导出：某组织（含下级）在一段日期内提交的诉求，每张一行，附全过程；党员台账。

`lianxin export requests --org CODE --from DATE --to DATE --format xlsx|csv`.
`export_members(org_code, fmt, out, full_phone=False)`: 党员台账（报到、离开、最后联系）.
`export_activities(org_code, from, to, fmt, out)`: 组织生活台账（活动、报名、签到）;
`export_timebank(org_code, fmt, out, from=None, to=None)`: 时间银行流水（带余额）.
Dates are calendar days of `[bot] timezone`, both ends included. Headers and labels
come from templates/zh_CN/commands.toml ([request_labels]).
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import clock_from_env
from bot.templates import Templates
from models.checkin import CheckIn, mask_phone
from models.people import Organization, Person
from models.requests import ServiceRequest, day_start, local

FORMATS = ("xlsx", "csv")


class ExportError(Exception):
    """One line for the operator (unknown organisation, bad format)."""


async def organization(org_code: str) -> Organization:
    org = await Organization.filter(code=org_code.upper()).first()
    if org is None:
        raise ExportError(f"unknown organisation code {org_code!r}")
    return org


def check_args(fmt: str, date_from: date | None = None, date_to: date | None = None) -> None:
    """The arguments every export shares, checked before any query."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if date_from and date_to and date_to < date_from:
        raise ExportError("--to is before --from")


def _when(dt: Any) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M") if dt else ""


async def request_rows(
    org_code: str,
    date_from: date,
    date_to: date,
    templates: Templates | None = None,
    now: datetime | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows, oldest first; 是否超时 as of `now` (the process clock)."""
    now = now or clock_from_env().now()
    labels = (templates or Templates()).commands.get("request_labels", {})
    head = labels["export"]
    org = await organization(org_code)
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
                    labels["visit"].get(e.note, e.note) if e.action == "visit" else e.note,
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
            "overdue": head["yes"] if r.is_overdue(now) else head["no"],
            "score": r.score if r.score is not None else "",
            "rating_comment": r.rating_comment or "",
            "urge_count": r.urge_count,
            "visit": labels["visit"].get(r.visit, ""),
            "supervised": sum(1 for e in events if e.action in ("supervise", "escalate")),
            "paused": sum(1 for e in events if e.action == "ask"),
            "attachments": "\n".join(a.url or a.media_id for a in await r.attachments()),
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
    check_args(fmt, date_from, date_to)
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
    org = await organization(org_code)

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
    check_args(fmt)
    header, rows = await member_rows(org_code, full_phone, templates)
    write_table(header, rows, fmt, out, "members")
    return len(rows)


# -- 组织生活台账 (activities) ----------------------------------------------------------
async def activity_rows(
    org_code: str, date_from: date, date_to: date, templates: Templates | None = None
) -> tuple[list[str], list[list[Any]]]:
    """One row per activity of the organisation's subtree starting in the dates, oldest
    first, with its sign-ups and attendance."""
    from models.activities import Activity

    labels = (templates or Templates()).commands.get("activity_labels", {})
    head = labels["export"]
    org = await organization(org_code)
    start, end = day_start(date_from), day_start(date_to + timedelta(days=1))
    acts = (
        await Activity.filter(
            org__path__startswith=org.path, starts_at__gte=start, starts_at__lt=end
        )
        .select_related("org", "created_by")
        .order_by("starts_at", "id")
    )
    rows = []
    for a in acts:
        f = await a.figures()
        roster = await a.roster()
        values = {
            "number": a.id,
            "org": a.org.name,
            "title": a.title,
            "kind": labels["kind"].get(a.kind, a.kind),
            "starts_at": _when(a.starts_at),
            "ends_at": _when(a.ends_at),
            "place": a.place,
            "capacity": a.capacity,
            "audience": labels["audience"].get(a.audience, a.audience),
            "volunteer_hours": float(a.volunteer_hours),
            "status": labels["status"].get(a.status, a.status),
            "publisher": a.created_by.name if a.created_by else "",
            "confirmed": f["confirmed"],
            "waitlisted": f["waitlisted"],
            "attended": f["attended"],
            "attended_members": f["attended_members"],
            "attended_residents": f["attended_residents"],
            "offered": f["offered"],
            "late_cancels": f["late_cancels"],
            "walk_ins": f["walk_ins"],
            "signed_up": "、".join(s.person.name for s in roster if s.status == "confirmed"),
            "attendees": "、".join(s.person.name for s in roster if s.attended_at is not None),
            "cancel_reason": a.cancel_reason,
        }
        rows.append([values[k] for k in head])
    return [head[k] for k in head], rows


async def export_activities(
    org_code: str,
    date_from: date,
    date_to: date,
    fmt: str,
    out: Path,
    templates: Templates | None = None,
) -> int:
    """Write the activities ledger to `out`; returns the number of activities written."""
    check_args(fmt, date_from, date_to)
    header, rows = await activity_rows(org_code, date_from, date_to, templates)
    write_table(header, rows, fmt, out, "activities")
    return len(rows)


async def timebank_rows(
    org_code: str,
    date_from: date | None = None,
    date_to: date | None = None,
    templates: Templates | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """时间银行台账: every ledger row of the organisation's subtree (credits for its
    activities, redemptions its officers made), oldest first, with each person's running
    balance (over all their rows, so it matches /时间银行)."""
    from decimal import Decimal

    from models.activities import TimeBankEntry

    labels = (templates or Templates()).commands.get("activity_labels", {})
    head = labels["export_timebank"]
    org = await organization(org_code)
    people = set(
        await TimeBankEntry.filter(org__path__startswith=org.path).values_list(
            "person_id", flat=True
        )
    )
    entries = (
        await TimeBankEntry.filter(person_id__in=people)
        .select_related("person", "activity", "officer", "org")
        .order_by("created_at", "id")
    )
    start = day_start(date_from) if date_from else None
    end = day_start(date_to + timedelta(days=1)) if date_to else None
    codes = await redemption_codes([e.ref for e in entries if e.ref])
    running: dict[int, Decimal] = {}
    rows = []
    for e in entries:
        running[e.person_id] = running.get(e.person_id, Decimal("0")) + Decimal(e.hours)
        in_scope = e.org is not None and e.org.path.startswith(org.path)
        if not in_scope or (start and e.created_at < start) or (end and e.created_at >= end):
            continue
        values = {
            "created_at": _when(e.created_at),
            "name": e.person.name,
            "kind": labels["timebank_kind"].get(e.kind, e.kind),
            "hours": float(e.hours),
            "balance": float(running[e.person_id]),
            "activity": e.activity.title if e.activity else "",
            "item": e.item,
            "officer": e.officer.name if e.officer else "",
            "org": e.org.name if e.org else "",
            "reason": e.reason,
            "appeal": e.appeal_id or "",
            "code": codes.get(e.ref or "", ""),
        }
        rows.append([values[k] for k in head])
    return [head[k] for k in head], rows


async def redemption_codes(refs: list[str]) -> dict[str, str]:
    """ref "red:<id>" of a catalogue redemption → its 核销码 (and whether it was used)."""
    from models.redemption import Redemption

    ids = [int(r[4:]) for r in refs if r.startswith("red:") and r[4:].isdigit()]
    rows = await Redemption.filter(id__in=ids).values_list("id", "code", "status")
    return {
        f"red:{i}": f"{code}（{'已核销' if st == 'used' else '未核销'}）" for i, code, st in rows
    }


async def export_timebank(
    org_code: str,
    fmt: str,
    out: Path,
    date_from: date | None = None,
    date_to: date | None = None,
    templates: Templates | None = None,
) -> int:
    """Write the time-bank ledger to `out`; returns the number of rows written."""
    check_args(fmt, date_from, date_to)
    header, rows = await timebank_rows(org_code, date_from, date_to, templates)
    write_table(header, rows, fmt, out, "timebank")
    return len(rows)
