"""花名册导入的规则（models/roster.py）：每行校验、一个事务、重复导入不变、试导入；命令行。"""

from __future__ import annotations

import os
import subprocess
import sys

from models.people import GroupBinding, Identity, Organization, Person, RoleGrant
from models.roster import import_roster
from tests.test_tabular import xlsx

MEMBERS = [
    ["姓名", "手机号", "所属组织代码", "党员类别", "组织关系", "聊天账号"],
    ["张三", "13800001111", "ZB001", "正式党员", "", "onebot:10001"],
    ["李四", "13800002222", "zb001", "预备党员", "口袋党员", ""],
]


async def seed() -> None:
    from bot.demo import seed as demo

    await demo()


async def test_members_import_once_and_again_changes_nothing(db):
    await seed()
    data = xlsx(MEMBERS)
    first = await import_roster("members", data)
    assert first.ok and first.written and first.counts == {"created": 2}
    zhang = await Person.get(phone="13800001111").select_related("home_org")
    assert (zhang.real_name, zhang.home_org.code, zhang.member_type) == ("张三", "ZB001", "full")
    assert zhang.relation_status == "registered"
    li = await Person.get(phone="13800002222")
    assert (li.member_type, li.relation_status) == ("probationary", "unregistered")
    assert await RoleGrant.filter(role="member").count() == 2
    assert (await Identity.get(platform="onebot", user_id="10001")).person_id == zhang.id
    before = await Person.all().count(), await RoleGrant.all().count(), await Identity.all().count()
    again = await import_roster("members", data)
    assert again.ok and again.counts == {"unchanged": 2}
    after = await Person.all().count(), await RoleGrant.all().count(), await Identity.all().count()
    assert before == after
    # a change in the file is an update, not a second person
    changed = [row[:] for row in MEMBERS]
    changed[2][3] = "正式党员"
    third = await import_roster("members", xlsx(changed))
    assert third.counts == {"unchanged": 1, "updated": 1}
    assert (await Person.get(phone="13800002222")).member_type == "full"


async def test_one_bad_row_writes_nothing(db):
    await seed()
    rows = [*MEMBERS, ["王五", "13800003333", "NOPE", "正式党员"], ["赵六", "138", "ZB001", "x"]]
    report = await import_roster("members", xlsx(rows))
    assert not report.written
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (4, "所属组织代码", "unknown_org"),
        (5, "手机号", "checkin_bad_phone"),
        (5, "党员类别", "bad_member_type"),
    ]
    assert await Person.filter(phone__startswith="138").count() == 0


async def test_dry_run_counts_but_writes_nothing(db):
    await seed()
    report = await import_roster("members", xlsx(MEMBERS), dry_run=True)
    assert report.ok and report.dry_run and not report.written
    assert report.counts == {"created": 2}
    assert await Person.filter(phone="13800001111").count() == 0


async def test_scope_and_taken_accounts(db):
    await seed()
    sq2 = await Organization.get(code="SQ002")
    report = await import_roster(
        "members", xlsx(MEMBERS), may=lambda org: org is not None and org.path.startswith(sq2.path)
    )
    assert {e.code for e in report.errors} == {"not_your_org"}
    other = await Person.create(display_name="别人")
    await Identity.create(platform="onebot", user_id="10001", person=other)
    taken = await import_roster("members", xlsx(MEMBERS))
    assert [(e.row, e.code) for e in taken.errors] == [(2, "account_taken")]


async def test_orgs_parents_first_and_again_unchanged(db):
    await seed()
    rows = [
        ["组织代码", "组织名称", "类别", "上级组织代码"],
        ["WG09", "第九网格", "网格", "ZB009"],
        ["ZB009", "和平社区第九党支部", "支部", "SQ001"],
    ]
    first = await import_roster("orgs", xlsx(rows))
    assert first.ok and first.counts == {"created": 2}
    zb9 = await Organization.get(code="ZB009")
    wg9 = await Organization.get(code="WG09")
    sq1 = await Organization.get(code="SQ001")
    assert wg9.parent_id == zb9.id and wg9.path.startswith(sq1.path)
    assert (await import_roster("orgs", xlsx(rows))).counts == {"unchanged": 2}
    moved = [rows[0], ["ZB009", "和平社区第九党支部", "支部", "SQ002"]]
    assert [e.code for e in (await import_roster("orgs", xlsx(moved))).errors] == ["org_moved"]
    cycle = [rows[0], ["A1", "甲", "支部", "B1"], ["B1", "乙", "支部", "A1"]]
    assert {e.code for e in (await import_roster("orgs", xlsx(cycle))).errors} == {"org_cycle"}
    top = [rows[0], ["NEWQ", "新区委", "区委", ""]]
    refused = await import_roster("orgs", xlsx(top), may=lambda org: org is not None)
    assert [e.code for e in refused.errors] == ["not_your_org"]


async def test_bindings(db):
    await seed()
    rows = [["平台", "群号", "组织代码"], ["onebot", "555", "SQ001"], ["onebot", "555", "SQ002"]]
    dup = await import_roster("bindings", xlsx(rows))
    assert [(e.row, e.code) for e in dup.errors] == [(3, "duplicate")]
    ok = await import_roster("bindings", xlsx(rows[:2]))
    assert ok.counts == {"created": 1}
    assert (
        await GroupBinding.get(platform="onebot", chat_id="555").select_related("org")
    ).org.code == "SQ001"
    assert (await import_roster("bindings", xlsx(rows[:2]))).counts == {"unchanged": 1}


def test_import_from_the_shell(tmp_path):
    env = {**os.environ, "LIANXIN_DATABASE__URL": f"sqlite://{tmp_path}/cli.sqlite3"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip

    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    good = tmp_path / "members.xlsx"
    good.write_bytes(xlsx(MEMBERS))
    dry = run("import", "members", str(good), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "试导入（没有写入）：2 行，新建 2，更新 0，不变 0。"
    done = run("import", "members", str(good))
    assert done.stdout.strip() == "已导入：2 行，新建 2，更新 0，不变 0。"
    assert (
        run("import", "members", str(good)).stdout.strip()
        == "已导入：2 行，新建 0，更新 0，不变 2。"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,手机号,所属组织代码,党员类别\n王五,123,ZB001,正式党员\n", "utf-8")
    failed = run("import", "members", str(bad))
    assert failed.returncode == 1
    assert "第 2 行「手机号」：“123”不是 11 位手机号。" in failed.stderr
    template = tmp_path / "t.xlsx"
    assert run("import", "members", str(template), "--template").returncode == 0
    assert template.stat().st_size > 1000
