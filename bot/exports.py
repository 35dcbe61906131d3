"""台账导出的公共部分：检查参数、写 csv / xlsx；每种台账由它的服务注册（router.export）。

A service registers a ledger on its router::

    router.export("requests", dated=True, workbench=True)(request_rows)

where ``request_rows(org_code, date_from, date_to, *, templates, full_phone)`` returns
the header and the rows. `lianxin export NAME --org CODE [--from DATE --to DATE]
[--full-phone] --format xlsx|csv` and the workbench's ledger page find it by name
(`ledger`), and `export` writes it. Dates are calendar days of `[bot] timezone`, both
ends included; headers and labels come from the service's labels in commands.toml.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from bot.registry import Ledger
from bot.services import DEFAULT_SERVICES, load_routers
from bot.templates import Templates
from models.people import Organization

FORMATS = ("xlsx", "csv")


class ExportError(Exception):
    """One line for the operator (unknown organisation, bad format)."""


async def organization(org_code: str) -> Organization:
    org = await Organization.find(org_code)
    if org is None:
        raise ExportError(f"unknown organisation code {org_code!r}")
    return org


def check_args(fmt: str, date_from: date | None = None, date_to: date | None = None) -> None:
    """The arguments every export shares, checked before any query."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if date_from and date_to and date_to < date_from:
        raise ExportError("--to is before --from")


def ledgers(services: Iterable[str] = DEFAULT_SERVICES) -> dict[str, Ledger]:
    """Every ledger the services register, by name, in their order."""
    return {ledger.name: ledger for r in load_routers(services) for ledger in r.ledgers}


def ledger(name: str, services: Iterable[str] = DEFAULT_SERVICES) -> Ledger:
    found = ledgers(services)
    if name not in found:
        raise ExportError(f"unknown ledger {name!r} (known: {', '.join(found)})")
    return found[name]


async def export(
    what: str | Ledger,
    org_code: str,
    fmt: str,
    out: Path,
    date_from: date | None = None,
    date_to: date | None = None,
    *,
    full_phone: bool = False,
    templates: Templates | None = None,
) -> int:
    """Write the ledger `what` of the organisation's subtree to `out`; returns the rows."""
    found = ledger(what) if isinstance(what, str) else what
    check_args(fmt, date_from, date_to)
    if found.dated and not (date_from and date_to):
        raise ExportError(f"{found.name} needs --from DATE and --to DATE")
    header, rows = await found.rows(
        org_code, date_from, date_to, templates=templates, full_phone=full_phone
    )
    write_table(header, rows, fmt, out, found.name)
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
