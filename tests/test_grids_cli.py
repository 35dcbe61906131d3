"""网格的运维命令：lianxin org add、admin grant … grid_worker、export visits / households。"""

from __future__ import annotations

import csv
from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from bot.exports import export
from models.grids.households import Household, Visit
from models.people import Organization, Person, RoleGrant
from models.requests import ServiceRequest
from tests.test_cli import run  # noqa: F401  (the fixture)

CST = ZoneInfo("Asia/Shanghai")


def test_org_add_and_grant_a_grid_worker(run):  # noqa: F811
    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    made = run("org", "add", "wg03", "和平社区第三网格", "--kind", "grid", "--parent", "SQ001")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "created: WG03 和平社区第三网格 (grid) under SQ001"
    again = run("org", "add", "WG03", "和平社区第三网格", "--kind", "grid", "--parent", "SQ001")
    assert again.returncode == 0 and again.stdout.startswith("already there: WG03")
    clash = run("org", "add", "WG03", "别的名字", "--kind", "grid", "--parent", "SQ001")
    assert clash.returncode == 2 and "already 和平社区第三网格 (grid)" in clash.stderr
    orphan = run("org", "add", "WG04", "网格", "--kind", "grid", "--parent", "NOPE")
    assert orphan.returncode == 2 and "unknown parent code 'NOPE'" in orphan.stderr
    assert run("org", "add", "X1", "某", "--kind", "planet").returncode == 2
    top = run("org", "add", "D2", "另一个区委", "--kind", "district")
    assert top.stdout.strip() == "created: D2 另一个区委 (district)"

    granted = run("admin", "grant", "console:gw3", "grid_worker", "WG03")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == "granted: console:gw3 grid_worker of WG03"
    not_grid = run("admin", "grant", "console:gw3", "grid_worker", "SQ001")
    assert not_grid.returncode == 2 and "SQ001 is a community, not a grid" in not_grid.stderr
    assert run("admin", "grant", "console:gw3", "grid_worker").returncode == 2
    # the new grid member can use the grid commands at once
    chat = run("chat", "--user", "gw3", stdin="/我的网格\n")
    assert "您还没有分到住户" in chat.stdout


async def test_visit_and_household_ledgers(db, tmp_path):
    sq = await Organization.create_in_tree("SQ9", "社区", "community")
    wg = await Organization.create_in_tree("WG9", "第九网格", "grid", sq)
    other = await Organization.create_in_tree("WG8", "别的网格", "grid")
    gw = await Person.create(real_name="网格员甲")
    await RoleGrant.create(person=gw, role="grid_worker", org=wg)
    when = datetime(2026, 3, 5, 10, tzinfo=CST)
    h, _ = await Household.upsert(wg, "5-3-301", when, head_name="张大爷", phone="13800001111",
                                  tags=["独居老人", "党员户"], worker_id=gw.id)  # fmt: skip
    far, _ = await Household.upsert(other, "1-1-101", when, head_name="外人")
    v1 = await Visit.record(await Household.get(id=h.id).select_related("grid"), gw, "phone",
                            "反映下水道堵", when)  # fmt: skip
    req = await ServiceRequest.file(wg, gw, "反映下水道堵", now=when)
    await v1.link_request(req.id)
    await Visit.create(household=far, grid=other, worker=gw, visited_on=date(2026, 3, 6),
                       created_at=when)  # fmt: skip
    out = tmp_path / "v.csv"
    assert await export("visits", "SQ9", "csv", out) == 1
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert rows == [
        ["走访日期", "网格", "住户地址", "户主", "网格员", "方式", "走访情况", "关联诉求"],
        ["2026-03-05", "第九网格", "5-3-301", "张大爷", "网格员甲", "电话", "反映下水道堵",
         req.number],
    ]  # fmt: skip
    assert await export("visits", "SQ9", "csv", out, date(2026, 4, 1), date(2026, 4, 30)) == 0
    xlsx = tmp_path / "h.xlsx"
    assert await export("households", "SQ9", "xlsx", xlsx) == 1
    ws = load_workbook(xlsx).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == ["网格", "地址", "户主", "电话", "标签", "网格员", "党员", "今年走访次数",
                         "上次走访"]  # fmt: skip
    assert values[1][:6] == ["第九网格", "5-3-301", "张大爷", "138****1111", "独居老人、党员户",
                             "网格员甲"]  # fmt: skip
    assert values[1][8] == "2026-03-05"
    full = tmp_path / "f.csv"
    await export("households", "SQ9", "csv", full, full_phone=True)
    assert "13800001111" in full.read_text("utf-8-sig")
