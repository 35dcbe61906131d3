"""住户导入：每行校验、有错不写、重复导入不变、试导入、范围；命令行与党务工作台。"""

from __future__ import annotations

import os
import subprocess
import sys

from bot.identity import IdentityService
from models.grids.households import Household
from models.people import Organization, Person
from models.roster import import_roster
from tests.test_grids_chat import grant
from tests.test_tabular import xlsx

HEADER = ["网格代码", "地址", "户主", "电话", "标签", "网格员", "党员手机号", "备注"]
ROWS = [
    HEADER,
    ["WG01", "5栋3单元301", "张大爷", "13800001111", "独居老人、党员户", "", "13900009999", ""],
    ["wg01", "5-2-301", "李奶奶", "", "", "gw1", "", "腿脚不便"],
]


async def setup() -> None:
    from bot.demo import seed

    await seed()
    gw1 = await grant("gw1", "grid_worker", "WG01")
    await Person.filter(id=gw1).update(real_name="网格员甲")
    zb = await Organization.get(code="ZB001")
    await Person.create(real_name="党员乙", phone="13900009999", relation_status="registered",
                        home_org=zb)  # fmt: skip


async def test_households_once_and_again_changes_nothing(db):
    await setup()
    first = await import_roster("households", xlsx(ROWS))
    assert first.ok and first.written and first.counts == {"created": 2}
    rows = await Household.all().order_by("id").select_related("worker", "member", "grid")
    assert [(h.grid.code, h.address, h.address_key, h.head_name) for h in rows] == [
        ("WG01", "5栋3单元301", "5-3-301", "张大爷"),
        ("WG01", "5-2-301", "5-2-301", "李奶奶"),
    ]
    # the grid has one grid member: a row without one gets them
    assert [h.worker.real_name for h in rows] == ["网格员甲", "网格员甲"]
    assert rows[0].tags == ["独居老人", "党员户"] and rows[0].member.real_name == "党员乙"
    assert (rows[0].phone, rows[0].masked_phone, rows[1].note) == (
        "13800001111", "138****1111", "腿脚不便"
    )  # fmt: skip
    again = await import_roster("households", xlsx(ROWS))
    assert again.ok and again.counts == {"unchanged": 2}
    # the same door written another way is the same household: an update, not a new one
    changed = [row[:] for row in ROWS]
    changed[1][1], changed[1][2] = "5-3-301", "张建国"
    third = await import_roster("households", xlsx(changed))
    assert third.counts == {"updated": 1, "unchanged": 1}
    assert await Household.all().count() == 2
    assert (await Household.get(address_key="5-3-301")).head_name == "张建国"


async def test_one_bad_row_writes_nothing_and_dry_run_writes_nothing(db):
    await setup()
    await IdentityService().grant(
        await Person.create(display_name="别人"), "grid_worker", await Organization.get(code="WG01")
    )
    bad = [
        *ROWS,
        ["SQ001", "6-1-101", "王五", "", "", "", "", ""],
        ["WG01", "6-1-102", "赵六", "123", "富裕户", "", "", ""],
        ["NOPE", "6-1-103", "钱七", "", "", "", "", ""],
        ["WG01", "5栋2单元301", "重复", "", "", "", "", ""],
        ["WG01", "6-1-104", "孙八", "", "", "无名氏", "13700000000", ""],
    ]
    report = await import_roster("households", xlsx(bad))
    assert not report.written
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (4, "网格代码", "grid_not_a_grid"),
        (5, "电话", "checkin_bad_phone"),
        (5, "标签", "grid_bad_tag"),
        (6, "网格代码", "unknown_org"),
        (7, "地址", "duplicate"),
        (8, "网格员", "grid_worker_unknown"),
    ]
    assert await Household.all().count() == 0
    # two grid members in WG01 now: a row must say which (rows 2 and 3 of ROWS do not)
    dry = await import_roster("households", xlsx(ROWS), dry_run=True)
    assert dry.ok and dry.dry_run and not dry.written and dry.counts == {"created": 2}
    assert await Household.all().count() == 0
    assert (await Household.filter().count()) == 0
    # scope: an officer of SQ002 may not import into SQ001's grid
    sq2 = await Organization.get(code="SQ002")
    scoped = await import_roster("households", xlsx(ROWS), may=lambda org: org is not None
                                 and org.path.startswith(sq2.path))  # fmt: skip
    assert [e.code for e in scoped.errors] == ["not_your_org", "not_your_org"]


def test_import_households_from_the_shell(tmp_path):
    env = {**os.environ, "LIANXIN_DATABASE__URL": f"sqlite://{tmp_path}/cli.sqlite3"}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args], input=stdin,
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip

    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    assert run("admin", "grant", "console:gw1", "grid_worker", "WG01").returncode == 0
    good = tmp_path / "households.csv"
    good.write_text(
        "网格代码,地址,户主,电话,标签\nWG01,5栋3单元301,张大爷,13800001111,独居老人\n"
        "WG01,5-2-301,李奶奶,,\n",
        "utf-8-sig",
    )
    dry = run("import", "households", str(good), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "试导入（没有写入）：2 行，新建 2，更新 0，不变 0。"
    assert run("import", "households", str(good)).stdout.strip() == (
        "已导入：2 行，新建 2，更新 0，不变 0。"
    )
    assert run("import", "households", str(good)).stdout.strip() == (
        "已导入：2 行，新建 0，更新 0，不变 2。"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("网格代码,地址,户主,标签\nWG01,7-1-101,王五,富裕户\n", "utf-8")
    failed = run("import", "households", str(bad))
    assert failed.returncode == 1
    assert (
        "第 2 行「标签」：没有“富裕户”这个标签，可用的标签：独居老人、困难家庭、党员户、出租户。"
        in (failed.stderr)
    )
    # configured tags are the ones allowed
    env["LIANXIN_GRIDS__TAGS"] = "富裕户,独居老人"
    assert run("import", "households", str(bad)).returncode == 0
    # the grid member sees them at once
    chat = run("chat", "--user", "gw1", stdin="/我的网格\n")
    assert "我的网格：3 户。" in chat.stdout and "张大爷 138****1111（独居老人）" in chat.stdout
    template = tmp_path / "t.xlsx"
    assert run("import", "households", str(template), "--template").returncode == 0
    assert template.stat().st_size > 1000
