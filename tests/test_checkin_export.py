"""党员台账导出：中文表头，手机号默认打码，full_phone=True 时完整。"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from bot.demo import seed
from bot.exports import ExportError, export
from models.checkin import CheckIn, MemberRegistration
from models.people import Organization, Person

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


class Officer:
    def is_officer_of(self, org) -> bool:
        return True


@pytest.fixture
async def ledger(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    a, b, sec = [await Person.create(display_name=n) for n in ("a", "b", "sec")]
    for p, name, phone in ((a, "张三", "13800001234"), (b, "李四", "13900005678")):
        reg, _ = await MemberRegistration.submit(
            p, orgs["ZB001"], real_name=name, phone=phone, home_org=orgs["ZB001"], now=T0
        )
        await reg.confirm(sec, Officer(), now=T0)
    await CheckIn.check_in(a, orgs["WG01"], now=T0)
    await CheckIn.leave_current(a, "广州", now=T0)
    return orgs


async def test_csv_masked_by_default(ledger, tmp_path):
    out = tmp_path / "m.csv"
    assert await export("members", "sq001", "csv", out) == 2
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "姓名",
        "手机",
        "组织关系所在支部",
        "报到组织",
        "类别",
        "报到时间",
        "离开时间",
        "去向",
        "最后联系",
    ]
    assert rows[1][:8] == [
        "张三",
        "138****1234",
        "和平社区第一党支部",
        "和平社区第一网格",
        "流入",
        "2026-11-22 10:00",
        "2026-11-22 10:00",
        "广州",
    ]
    assert rows[2][:5] == ["李四", "139****5678", "和平社区第一党支部", "", ""]


async def test_xlsx_full_phone_and_errors(ledger, tmp_path):
    out = tmp_path / "m.xlsx"
    assert await export("members", "ZB001", "xlsx", out, full_phone=True) == 2
    ws = load_workbook(out).active
    assert ws.title == "members"
    assert [c.value for c in ws[2]][:2] == ["张三", "13800001234"]
    assert [c.value for c in ws[3]][:2] == ["李四", "13900005678"]
    assert await export("members", "SQ002", "csv", tmp_path / "e.csv") == 0
    with pytest.raises(ExportError):
        await export("members", "NOPE", "csv", tmp_path / "x.csv")
    with pytest.raises(ExportError):
        await export("members", "SQ001", "pdf", tmp_path / "x.pdf")
