"""台账导出：xlsx / csv，中文表头，每张诉求一行带全过程。"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from tortoise.transactions import in_transaction

from bot.demo import seed
from bot.exports import ExportError, export
from models.people import Organization, Person
from models.requests import ServiceRequest

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


@pytest.fixture
async def filed(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    bob, sec = await Person.create(display_name="老王"), await Person.create(display_name="王书记")
    async with in_transaction():
        a = await ServiceRequest.file(orgs["ZB001"], bob, "灯坏了", category="repair", now=T0)
        await ServiceRequest.file(orgs["SQ002"], bob, "别的社区", now=T0)
        # 23 Nov 00:30 Shanghai: outside a one-day range ending on the 22nd
        await ServiceRequest.file(
            orgs["SQ001"], bob, "晚了", now=T0 + timedelta(hours=14, minutes=30)
        )
    await a.accept(sec, now=T0 + timedelta(hours=1))
    await a.close("已修好", sec, now=T0 + timedelta(hours=2))
    return a


async def test_csv_export(filed, tmp_path):
    out = tmp_path / "r.csv"
    n = await export("requests", "sq001", "csv", out, date(2026, 11, 22), date(2026, 11, 22))
    assert n == 1
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert rows[0][:3] == ["编号", "所属组织", "类别"] and rows[0][-1] == "全过程"
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["编号"] == filed.number and row["所属组织"] == "和平社区第一党支部"
    assert (row["状态"], row["办理人"], row["办理结果/退回原因"]) == ("已办结", "王书记", "已修好")
    assert row["提交时间"] == "2026-11-22 10:00" and row["是否超时"] == "否"
    assert row["全过程"].splitlines() == [
        "2026-11-22 10:00 提交诉求 老王",
        "2026-11-22 11:00 接单办理 王书记",
        "2026-11-22 12:00 回单 王书记 已修好",
    ]
    assert (
        await export("requests", "SQ001", "csv", out, date(2026, 11, 22), date(2026, 11, 23)) == 2
    )


async def test_xlsx_export(filed, tmp_path):
    out = tmp_path / "r.xlsx"
    assert await export("requests", "JD01", "xlsx", out, date(2026, 11, 1), date(2026, 11, 30)) == 3
    ws = load_workbook(out).active
    assert ws["A1"].value == "编号" and ws["A2"].value == filed.number
    assert ws.max_row == 4


async def test_export_errors(filed, tmp_path):
    with pytest.raises(ExportError):
        await export(
            "requests", "NOPE", "csv", tmp_path / "x", date(2026, 11, 1), date(2026, 11, 2)
        )
    with pytest.raises(ExportError):
        await export(
            "requests", "SQ001", "pdf", tmp_path / "x", date(2026, 11, 1), date(2026, 11, 2)
        )
