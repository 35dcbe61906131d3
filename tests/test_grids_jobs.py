"""网格的定时工作：每月走访提醒（经广播器、一月一次、避开免打扰、重启后不重发），
失联阶梯（疑似失联 → 任务 → 书记确认 → 联系上回到正常；从不发到群里）。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import RUNTIME, create_app
from bot.clock import ManualClock
from bot.demo import seed
from models.broadcasts import Broadcast
from models.deliveries import Delivery
from models.grids.households import Visit
from models.grids.ladder import ContactLadder, LadderEvent
from models.people import Organization, Person
from tests.conftest import Console, grant_officer, make_config, private_answer
from tests.jobs import fire_job
from tests.test_grids_chat import add_household, grant

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


async def start(aiohttp_client, config, when: datetime) -> Console:
    """A process: the app, a manual clock at `when`, leading."""
    c = Console(await aiohttp_client(create_app(config)))
    c.runtime = c.client.server.app[RUNTIME]
    c.runtime.clock = ManualClock(when)
    assert await c.runtime.broadcaster.elect()
    return c


async def at(c: Console, when: datetime) -> int:
    c.runtime.clock.set(when)
    return await c.runtime.broadcaster.tick()


async def test_monthly_reminder_once_within_quiet_hours_across_a_restart(
    aiohttp_client, db_url, monkeypatch
):
    # LIANXIN_NOW starts the process clock at 1 April 06:30 (Beijing time) and it runs on
    monkeypatch.setenv("LIANXIN_NOW", "2026-04-01T06:30:00+08:00")
    config = make_config(db_url)
    app = create_app(config)
    runtime = app[RUNTIME]
    started = runtime.clock.now()
    assert abs(started - cst(2026, 4, 1, 6, 30)) < timedelta(seconds=5)
    assert runtime.clock.now() >= started  # …and runs on
    c = Console(await aiohttp_client(app))
    c.runtime = runtime
    # the job's row was created at start, on the LIANXIN_NOW clock
    job = await Broadcast.get(job="grids.visit_reminders")
    assert abs(job.next_fire_at - cst(2026, 4, 1, 6, 30)) < timedelta(seconds=5)
    assert job.rule == "every:3600"
    await seed()
    gw1 = await grant("gw1", "grid_worker", "WG01")
    await add_household("WG01", "1-1-101", "甲", "", gw1)
    await add_household("WG01", "1-1-102", "乙", "", gw1)
    done = await add_household("WG01", "1-1-103", "丙", "", gw1)
    for day in (cst(2026, 1, 10), cst(2026, 3, 10)):  # two visits: on pace in Q2
        await Visit.create(household=done, grid_id=done.grid_id, worker_id=gw1,
                           visited_on=day.date(), created_at=day)  # fmt: skip
    runtime.clock = ManualClock(cst(2026, 4, 1, 6, 45))
    assert await runtime.broadcaster.elect()
    assert await at(c, cst(2026, 4, 1, 6, 45)) == 0  # quiet hours until 07:00
    assert await Delivery.filter(purpose="grid_reminder").count() == 0
    await at(c, cst(2026, 4, 1, 7, 0))
    rows = await Delivery.filter(purpose="grid_reminder")
    assert [(r.target, r.status) for r in rows] == [("console:gw1", "sent")]
    assert rows[0].text.splitlines() == [
        "4 月走访提醒：您的网格有 2 户该走访了。",
        "1. 1-1-101 甲　今年 0 次",
        "2. 1-1-102 乙　今年 0 次",
        "今年已走访 1/3 户。走访后发送：/走访 地点 [方式] 情况",
    ]
    await c.client.close()

    # a new process on the same database: the reminder is not sent again
    monkeypatch.delenv("LIANXIN_NOW")
    second = await start(aiohttp_client, config, cst(2026, 4, 1, 8, 0))
    await at(second, cst(2026, 4, 1, 8, 0))
    await at(second, cst(2026, 4, 2, 9, 0))
    await at(second, cst(2026, 4, 20, 9, 0))  # past the first days: nothing
    assert await Delivery.filter(purpose="grid_reminder").count() == 1
    # next month: once again
    await at(second, cst(2026, 5, 1, 9, 0))
    await at(second, cst(2026, 5, 1, 10, 0))
    rows = await Delivery.filter(purpose="grid_reminder").order_by("id")
    assert len(rows) == 2 and rows[1].text.startswith("5 月走访提醒：您的网格有 2 户该走访了。")


def bad_now() -> None:
    from bot.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="LIANXIN_NOW: expected an ISO 8601 time"):
        load_config(None, env={"LIANXIN_NOW": "next tuesday"})


def test_lianxin_now_must_be_iso_8601():
    bad_now()


# -- the lost-contact ladder ----------------------------------------------------------------
async def member(name: str, user: str | None, last: datetime | None) -> Person:
    zb = await Organization.get(code="ZB001")
    if user:
        p = await Person.get(id=await grant(user, "member", "ZB001"))
        await Person.filter(id=p.id).update(real_name=name, relation_status="registered",
                                            home_org_id=zb.id, last_seen_at=last)  # fmt: skip
    else:
        p = await Person.create(real_name=name, relation_status="registered", home_org=zb,
                                last_seen_at=last)  # fmt: skip
    return await Person.get(id=p.id)


@pytest.fixture
async def ladder(console, demo, client):
    """ZB001's secretary zb1; gw1 of WG01; members 张三 (lives in gw1's household 8-1-101),
    李四 (no household), 王五 (seen in September); g1 bound to SQ001."""
    await grant_officer("zb1", "ZB001")
    gw1 = await grant("gw1", "grid_worker", "WG01")
    zs = await member("张三", "zs", cst(2026, 7, 20, 9))
    await member("李四", None, cst(2026, 7, 5, 9))
    await member("王五", None, cst(2026, 9, 10, 9))
    await add_household("WG01", "8-1-101", "张三", "", gw1, member=zs.id)
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    runtime = client.server.app[RUNTIME]
    runtime.clock = ManualClock(cst(2026, 10, 15, 10))
    console.runtime = runtime
    console.job = next(j for j in runtime.registry.jobs if j.name == "grids.lost_contact_ladder")
    return console


async def run_ladder(c, when: datetime) -> list[tuple[str, str]]:
    """Run the ladder's job at `when`; the deliveries it made (not those made before)."""
    c.runtime.clock.set(when)
    before = await Delivery.all().count()
    await fire_job(c.runtime, c.job, c.runtime.clock.now())
    rows = await Delivery.all().order_by("id").offset(before)
    return [(d.target, d.text) for d in rows]


async def stage(name: str) -> str:
    p = await Person.get(real_name=name)
    row = await ContactLadder.filter(person_id=p.id).first()
    return row.stage if row else "normal"


async def test_the_ladder_from_suspected_to_lost_and_back(ladder):
    c = ladder
    await member("赵七", None, cst(2026, 7, 1, 9))
    assert await run_ladder(c, cst(2026, 10, 15, 10)) == []  # August, September: 2 months
    sent = await run_ladder(c, cst(2026, 11, 1, 9))
    assert sorted(t for t, _ in sent) == ["console:gw1", "console:zb1"]
    texts = dict(sent)
    assert texts["console:gw1"].splitlines() == [
        "失联排查任务：以下 1 位党员已经 3 个月以上没有联系上（疑似失联），请联系：",
        "请联系 张三，最后联系 2026-07（3 个月）",
        "联系上后告诉支部书记，由书记发送：/确认失联 姓名 已联系 情况",
    ]
    # one message per person to tell, listing everyone they should reach
    assert texts["console:zb1"].splitlines()[:3] == [
        "失联排查任务：以下 2 位党员已经 3 个月以上没有联系上（疑似失联），请联系：",
        "请联系 李四，最后联系 2026-07（3 个月）",
        "请联系 赵七，最后联系 2026-07（3 个月）",
    ]
    assert "张三" not in texts["console:zb1"]  # his grid member has it
    assert (await stage("张三"), await stage("李四"), await stage("王五")) == (
        "suspected",
        "suspected",
        "normal",
    )
    # the task goes once, however often the job runs
    assert await run_ladder(c, cst(2026, 11, 1, 10)) == []
    assert await run_ladder(c, cst(2026, 11, 20, 10)) == []
    listing = await c.one("/失联", user="zb1")
    assert "张三　疑似失联（3 个月未联系）　最后联系 2026-07" in listing
    assert "李四　疑似失联（3 个月未联系）　最后联系 2026-07" in listing
    assert "王五" not in listing
    # too early to confirm
    assert await c.one("/确认失联 李四", user="zb1") == (
        "李四 目前疑似失联，已 3 个月没有联系上。满 6 个月没有联系上才能确认失联。"
    )
    # 张三 writes to the bot: any message is contact; back to 正常, history kept
    c.runtime.clock.set(cst(2026, 11, 25, 10))
    await c.say("/帮助", user="zs")
    assert await stage("张三") == "normal"
    one = await c.one("/失联 张三", user="zb1")
    assert one.splitlines()[0] == "张三：正常　最后联系 2026-11"
    assert "疑似失联 → 正常（联系上了：发来消息）" in one
    assert "正常 → 疑似失联（满月未联系）" in one
    # six months: the secretary is asked to confirm, privately
    sent = await run_ladder(c, cst(2027, 2, 1, 9))
    texts = sorted(text for _, text in sent)
    assert [t for t, _ in sent] == ["console:zb1", "console:zb1"]
    # 王五, last seen in September, has now been unreached four months
    assert texts[0].splitlines()[:2] == [
        "失联排查任务：以下 1 位党员已经 3 个月以上没有联系上（疑似失联），请联系：",
        "请联系 王五，最后联系 2026-09（4 个月）",
    ]
    assert texts[1].splitlines() == [
        "失联排查：以下 2 位党员已经 6 个月以上没有联系上，请确认失联或记下联系：",
        "请联系 李四，最后联系 2026-07（6 个月）",
        "请联系 赵七，最后联系 2026-07（6 个月）",
        "确认：/确认失联 姓名　联系上了：/确认失联 姓名 已联系 情况",
    ]
    listing = await c.one("/失联", user="zb1")
    assert "李四　疑似失联（6 个月未联系，待书记确认）" in listing
    assert (await c.one("/确认失联 李四", user="zb1")).startswith(
        "已确认 李四 失联（最后联系 2026-07）"
    )
    assert await stage("李四") == "lost"
    assert "李四　失联　最后联系 2026-07" in await c.one("/失联", user="zb1")
    # later the secretary reaches him: back to 正常, with the whole history
    c.runtime.clock.set(cst(2027, 3, 3, 10))
    reply = await c.one("/确认失联 李四 已联系 电话联系上了，在外地务工", user="zb1")
    assert reply == "已记下联系：李四 回到正常，最后联系是今天。"
    events = await LadderEvent.filter(person__real_name="李四").order_by("id")
    assert [(e.from_stage, e.to_stage, e.reason) for e in events] == [
        ("normal", "suspected", "auto"),
        ("suspected", "lost", "confirm"),
        ("lost", "normal", "contact"),
    ]
    assert events[2].note == "电话联系上了，在外地务工"
    # nothing about lost contact was ever sent to a group
    rows = await Delivery.filter(purpose="grid_ladder")
    assert rows and all(r.target in ("console:gw1", "console:zb1") for r in rows)


async def test_a_visit_to_the_household_is_contact_and_lost_contact_stays_private(ladder):
    c = ladder
    await run_ladder(c, cst(2026, 11, 1, 9))
    c.runtime.clock.set(cst(2026, 11, 3, 15))
    await c.one("/走访 8栋1单元101 上门 身体好", user="gw1")
    assert await stage("张三") == "normal"
    event = await LadderEvent.filter(to_stage="normal").select_related("actor").get()
    assert (event.via, event.actor.name) == ("visit", "gw1")
    # in a group the ladder answers in private (/确认失联 refuses to speak there), and
    # officers out of scope see nothing
    sent = "/失联 的结果已私信发送给您，请查看与我的私聊。"
    assert await c.one("/失联 李四", user="secretary", group="g1") == sent
    assert (await private_answer("secretary")).startswith("李四：")
    assert "请私聊" in await c.one("/确认失联 李四", user="secretary", group="g1")
    await grant_officer("sq2", "SQ002")
    assert "没有找到党员“李四”" in await c.one("/失联 李四", user="sq2")
    assert "没有疑似失联" in await c.one("/失联", user="sq2")
    assert "只有党务工作者" in await c.one("/失联", user="gw1")


async def test_advance_is_a_few_queries_for_many_members(db):
    """2,000 members, one run: the right ones move, and a second run moves nobody."""
    from models.grids.ladder import advance

    zb = await Organization.create_in_tree("ZBX", "支部", "branch")
    now = datetime(2026, 11, 1, 1, tzinfo=UTC)
    old, recent = now - timedelta(days=200), now - timedelta(days=20)
    await Person.bulk_create(
        [
            Person(
                real_name=f"党员{i}",
                relation_status="registered",
                home_org_id=zb.id,
                last_seen_at=old if i % 4 == 0 else recent,
            )
            for i in range(2000)
        ]
    )
    moved = await advance(now, 3)
    assert len(moved) == 500
    assert await advance(now, 3) == []
    assert await ContactLadder.filter(stage="suspected").count() == 500


async def test_advance_writes_each_move_with_its_history(db):
    """A member back to 正常 earlier and two never on the ladder: each becomes 疑似失联
    with the time of the run and their own last contact (a Beijing-time clock stored as
    the same instant), and one history row each; a 失联 member is left alone."""
    from models.grids.ladder import advance

    zb = await Organization.create_in_tree("ZBY", "支部", "branch")
    now = datetime(2026, 11, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    seen = [now - timedelta(days=d, minutes=7) for d in (100, 120, 150, 200)]
    people = [
        await Person.create(
            real_name=f"党员{i}", relation_status="registered", home_org_id=zb.id,
            last_seen_at=when,
        )
        for i, when in enumerate(seen)
    ]  # fmt: skip
    back, fresh1, fresh2, lost = people
    earlier = now - timedelta(days=300)
    await ContactLadder.create(person_id=back.id, stage="normal", since=earlier)
    await ContactLadder.create(person_id=lost.id, stage="lost", since=earlier)
    assert await advance(now, 3) == sorted(p.id for p in (back, fresh1, fresh2))
    rows = {r.person_id: (r.stage, r.since, r.last_contact_at) for r in await ContactLadder.all()}
    assert rows == {
        back.id: ("suspected", now, seen[0]),
        fresh1.id: ("suspected", now, seen[1]),
        fresh2.id: ("suspected", now, seen[2]),
        lost.id: ("lost", earlier, None),
    }
    events = [
        (e.person_id, e.from_stage, e.to_stage, e.reason, e.created_at)
        for e in await LadderEvent.all().order_by("person_id")
    ]
    assert events == [(p.id, "normal", "suspected", "auto", now) for p in (back, fresh1, fresh2)]
