"""住户导入：lianxin import households FILE [--dry-run]，以及党务工作台的导入页。

The same rules as the roster import (models/roster.py), through bot/tabular.py: every
row is checked; one wrong row and nothing is written; a dry run reports what a run
would do; the same file twice changes nothing the second time (a household is keyed
by its grid and its normalised address). Grid members are named by name, phone or
chat account among the grid's grid members; the member living there by phone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.clock import clock_from_env
from bot.tabular import Column, Report, Row, RowError, read_table, run_import
from models.checkin import normalize_name, normalize_phone
from models.errors import DomainError
from models.grids.config import GridsConfig
from models.grids.households import GRID_KIND, GRID_WORKER, Household
from models.grids.rules import normalize_tags, parse_place
from models.people import Identity, Organization, Person, RoleGrant

May = Callable[[Organization | None], bool]
MEMBER_RELATIONS = ("registered", "unregistered")


def parse_grid_code(text: str) -> str:
    code = text.strip().upper()
    if not code or len(code) > 32:
        raise DomainError("bad_org_code", value=text)
    return code


def parse_address(text: str) -> str:
    if len(text) > 100:
        raise DomainError("too_long", limit=100)
    if not parse_place(text).key:
        raise DomainError("grid_bad_address", address=text)
    return text


def household_columns(tags: Sequence[str]) -> tuple[Column, ...]:
    """The columns, with the tags this deployment allows ([grids] tags)."""
    return (
        Column("grid", "网格代码", note="住户所在网格的组织代码", example="WG01",
               parse=parse_grid_code),
        Column("address", "地址", note="楼栋-单元-室（如 5-3-301、5栋3单元301）或完整地址",
               example="99栋9单元909"),
        Column("head", "户主", note="户主姓名", example="张示例", parse=normalize_name),
        Column("phone", "电话", required=False, note="户主手机号，可空；只以打码形式显示",
               example="13800000000", parse=normalize_phone),
        Column("tags", "标签", required=False, note=f"可空；多个用顿号分开：{'、'.join(tags)}",
               example=tags[0] if tags else "", parse=lambda t: normalize_tags(t, tags)),
        Column("worker", "网格员", required=False,
               note="可空；该网格网格员的姓名、手机号或聊天账号；网格只有一位网格员时默认是他",
               example=""),
        Column("member", "党员手机号", required=False,
               note="可空；住在这户的党员（已登记）的手机号，走访算作联系上", example="",
               parse=normalize_phone),
        Column("note", "备注", required=False, note="可空，200 字以内", example=""),
    )  # fmt: skip


HOUSEHOLD_COLUMNS = household_columns(GridsConfig().tags)
TITLE = "住户导入模板"


async def import_households(
    data: bytes,
    *,
    tags: Sequence[str] | None = None,
    dry_run: bool = False,
    may: May | None = None,
    now: datetime | None = None,
) -> Report:
    """Read, check and (unless dry_run or any row is wrong) write one households file.

    Raises bot.tabular.TableError when the file is not a table with these headers."""
    columns = household_columns(tags) if tags is not None else HOUSEHOLD_COLUMNS
    rows, errors = read_table(data, columns)
    report = Report(errors=errors, rows=len(rows))

    async def run(rep: Report) -> None:
        await _apply(rows, rep, columns, may or (lambda org: True), now or clock_from_env().now())

    return await run_import(run, report, dry_run=dry_run)


def _refuse(report: Report, row: Row, columns: Sequence[Column], key: str, code: str, **d: Any):
    header = next(c.header for c in columns if c.key == key)
    report.errors.append(RowError(row.number, header, code, d))


async def _apply(
    rows: list[Row], report: Report, columns: Sequence[Column], may: May, now: datetime
) -> None:
    good = [r for r in rows if not r.failed]
    grids = {
        o.code: o
        for o in await Organization.filter(code__in=sorted({r.values["grid"] for r in good}))
    }
    workers = await _workers([g.id for g in grids.values()])
    phones = [r.values["member"] for r in good if r.values["member"]]
    members = {
        p.phone: p
        for p in await Person.filter(phone__in=phones, relation_status__in=MEMBER_RELATIONS)
    }
    seen: dict[tuple[str, str], int] = {}
    plan: list[tuple[Organization, Row, int | None, int | None]] = []
    for row in good:
        v = row.values
        grid = grids.get(v["grid"])
        if grid is None:
            _refuse(report, row, columns, "grid", "unknown_org", org_code=v["grid"])
            continue
        if grid.kind != GRID_KIND:
            _refuse(report, row, columns, "grid", "grid_not_a_grid", org_name=grid.name)
            continue
        if not may(grid):
            _refuse(report, row, columns, "grid", "not_your_org", org_code=v["grid"])
            continue
        key = (grid.code, parse_place(v["address"]).key)
        if key in seen:
            _refuse(report, row, columns, "address", "duplicate", value=v["address"],
                    first=seen[key])  # fmt: skip
            continue
        seen[key] = row.number
        worker = _worker_of(workers.get(grid.id, []), v["worker"])
        if worker is None and v["worker"]:
            _refuse(report, row, columns, "worker", "grid_worker_unknown", value=v["worker"],
                    grid_name=grid.name)  # fmt: skip
            continue
        member = members.get(v["member"]) if v["member"] else None
        if v["member"] and member is None:
            _refuse(report, row, columns, "member", "grid_member_unknown", value=v["member"])
            continue
        plan.append((grid, row, worker, member.id if member else None))
    if report.errors:
        return
    for grid, row, worker, member in plan:
        v = row.values
        _, status = await Household.upsert(
            grid, v["address"], now, head_name=v["head"], phone=v["phone"] or "",
            tags=v["tags"] or [], worker_id=worker, member_id=member, note=v["note"],
        )  # fmt: skip
        report.count(status)


async def _workers(grid_ids: list[int]) -> dict[int, list[tuple[Person, list[str]]]]:
    """Each grid's grid members, with the chat accounts that name them."""
    grants = await RoleGrant.filter(org_id__in=grid_ids, role=GRID_WORKER).select_related("person")
    accounts: dict[int, list[str]] = {}
    for i in await Identity.filter(person_id__in=[g.person_id for g in grants]):
        accounts.setdefault(i.person_id, []).append(f"{i.platform}:{i.user_id}")
    out: dict[int, list[tuple[Person, list[str]]]] = {}
    for g in sorted(grants, key=lambda g: g.person_id):
        out.setdefault(g.org_id, []).append((g.person, accounts.get(g.person_id, [])))
    return out


def _worker_of(workers: list[tuple[Person, list[str]]], named: str) -> int | None:
    """The grid member named (name, phone or account); the only one when none is named."""
    if not named:
        return workers[0][0].id if len(workers) == 1 else None
    for person, accounts in workers:
        if person.called(named) or named in (person.phone, *accounts):
            return person.id
    return None
