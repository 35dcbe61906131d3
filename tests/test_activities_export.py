"""组织生活台账与时间银行台账：中文表头、报名与签到、流水带余额；命令行子进程。"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from tortoise.transactions import in_transaction

from bot.demo import seed
from bot.exports import ExportError, export
from bot.identity import Caller
from models.activities import Activity, TimeBankEntry
from models.people import Organization, Person

T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
H = timedelta(hours=1)
ANYONE = Caller("console", "x", "x")


@pytest.fixture
async def ledger(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    sec = await Person.create(display_name="王书记")
    a, b, c = [await Person.create(display_name=n) for n in ("张三", "李四", "王五")]
    act = await Activity.publish(
        orgs["ZB001"],
        sec,
        title="敬老院志愿服务",
        kind="volunteer",
        starts_at=T0 + 24 * H,
        ends_at=T0 + 26 * H,
        place="幸福敬老院",
        capacity=2,
        audience="everyone",
        volunteer_hours="2",
        now=T0,
    )
    for p in (a, b, c):
        async with in_transaction():
            await act.join(p, ANYONE, now=T0)
    code = await act.issue_code(now=act.starts_at)
    await act.attend(a, ANYONE, code, now=act.starts_at)
    other = await Activity.publish(
        orgs["SQ002"], sec, title="别处", starts_at=T0 + H, ends_at=T0 + 2 * H, now=T0
    )
    await other.cancel("改期", sec, now=T0)
    async with in_transaction():
        await TimeBankEntry.redeem(a, "0.5", "理发一次", sec, org=orgs["SQ001"], now=act.ends_at)
    return orgs, act


async def test_activities_csv(ledger, tmp_path):
    out = tmp_path / "a.csv"
    assert (
        await export("activities", "sq001", "csv", out, date(2026, 11, 1), date(2026, 11, 30)) == 1
    )
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:6] == ["编号", "组织", "活动名称", "类别", "开始时间", "结束时间"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["活动名称"] == "敬老院志愿服务" and row["类别"] == "志愿服务"
    assert row["开始时间"] == "2026-11-19 10:00" and row["名额"] == "2"
    assert (row["报名人数"], row["候补人数"], row["签到人数"]) == ("2", "1", "1")
    assert row["报名名单"] == "张三、李四" and row["签到名单"] == "张三"
    assert row["发布人"] == "王书记" and row["参加对象"] == "所有人（含居民）"
    assert (
        await export("activities", "SQ001", "csv", out, date(2026, 12, 1), date(2026, 12, 31)) == 0
    )


async def test_activities_xlsx_and_errors(ledger, tmp_path):
    out = tmp_path / "a.xlsx"
    assert (
        await export("activities", "JD01", "xlsx", out, date(2026, 11, 1), date(2026, 11, 30)) == 2
    )
    ws = load_workbook(out).active
    assert ws.title == "activities"
    assert [c.value for c in ws[2]][2] == "别处"  # earliest first
    assert [c.value for c in ws[2]][-1] == "改期"
    assert [c.value for c in ws[3]][2] == "敬老院志愿服务"
    with pytest.raises(ExportError):
        await export("activities", "NOPE", "csv", out, date(2026, 11, 1), date(2026, 11, 2))
    with pytest.raises(ExportError):
        await export("activities", "SQ001", "csv", out, date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(ExportError):
        await export("activities", "SQ001", "pdf", out, date(2026, 11, 1), date(2026, 11, 2))


async def test_timebank_ledger_with_running_balance(ledger, tmp_path):
    out = tmp_path / "t.csv"
    assert await export("timebank", "SQ001", "csv", out) == 2
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "时间",
        "姓名",
        "类别",
        "小时",
        "余额",
        "活动",
        "兑换物品",
        "经办人",
        "组织",
        "原因",
        "申诉编号",
        "核销码",
    ]
    assert rows[1][1:6] == ["张三", "存入", "2.0", "2.0", "敬老院志愿服务"]
    assert rows[2][1:8] == ["张三", "兑换", "-0.5", "1.5", "", "理发一次", "王书记"]
    assert await export("timebank", "SQ002", "csv", out) == 0
    # dates filter the rows, the balance still counts everything before
    assert (
        await export("timebank", "SQ001", "csv", out, date(2026, 11, 19), date(2026, 11, 19)) == 2
    )
    assert await export("timebank", "SQ001", "csv", out, date(2026, 11, 20), None) == 0
    assert sum(Decimal(h) for h in await TimeBankEntry.all().values_list("hours", flat=True)) == (
        Decimal("1.5")
    )
    with pytest.raises(ExportError):
        await export("timebank", "NOPE", "csv", out)


def test_cli_exports(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LIANXIN_DATABASE__URL": f"sqlite://{tmp_path}/cli.sqlite3"}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    assert run("db", "upgrade").returncode == 0
    assert run("demo").returncode == 0
    line = "/发布活动 清扫楼道 | 明天 14:00-16:00 | 3号楼 | 10人 | 志愿2小时 | 所有人\n"
    published = run("chat", "--user", "secretary", stdin=line)
    assert "活动已发布，编号 1" in published.stdout, published.stdout + published.stderr
    assert "报名成功" in run("chat", "--user", "bob", stdin="/报名 1\n").stdout
    today = datetime.now(UTC).date()
    out = tmp_path / "acts.csv"
    done = run(
        "export",
        "activities",
        "--org",
        "SQ001",
        "--from",
        str(today),
        "--to",
        str(today + timedelta(days=2)),
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"1 activities → {out}"
    assert "清扫楼道" in out.read_text("utf-8-sig") and "bob" in out.read_text("utf-8-sig")
    tb = run("export", "timebank", "--org", "SQ001", "--format", "xlsx")
    assert tb.returncode == 0 and (tmp_path / "timebank-SQ001.xlsx").exists()
    assert run("export", "activities", "--org", "SQ001").returncode == 2  # needs --from/--to
    bad = run("export", "timebank", "--org", "NOPE")
    assert bad.returncode == 2 and bad.stderr.startswith("export: ")
