"""Scheduled broadcasts over the console, with a clock the test moves (no sleeping)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import RUNTIME
from bot.clock import ManualClock
from models.broadcasts import Broadcast, BroadcastFiring, Subscription
from models.deliveries import Delivery
from tests.conftest import grant_officer, private_answer

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


@pytest.fixture
async def town(console, demo, client):
    """g1 bound to SQ001 (secretary), g2 bound to ZB001 (its branch), g3 to SQ002 (sq2);
    the clock at Sunday 2026-11-22 10:00 Beijing time; this process leads."""
    await grant_officer("sq2", "SQ002")
    for group, code, user in (("g1", "SQ001", "secretary"), ("g2", "ZB001", "secretary"),
                              ("g3", "SQ002", "sq2")):  # fmt: skip
        assert "已把本群绑定" in await console.one(f"/绑定 {code}", user=user, group=group)
    runtime = client.server.app[RUNTIME]
    runtime.clock = ManualClock(cst(2026, 11, 22, 10, 0))
    assert await runtime.broadcaster.elect()
    console.runtime = runtime
    return console


async def at(c, when: datetime) -> int:
    """Move the clock and let the leader fire what is due."""
    c.runtime.clock.set(when)
    return await c.runtime.broadcaster.tick()


async def sent_to(target: str, purpose: str = "broadcast") -> list[str]:
    rows = await Delivery.filter(target=target, purpose=purpose, status="sent").order_by("id")
    return [r.text for r in rows]


async def test_daily_broadcast_goes_once_each_day(town):
    c = town
    reply = await c.one(
        "/定时 每天 08:00 早上好，今天是{{日期}}{{星期}}", user="secretary", group="g1"
    )
    assert reply.startswith("已安排广播 #")
    assert "时间：每天 08:00，下次 2026-11-23 08:00" in reply
    assert "发给：本群" in reply
    assert "早上好，今天是11月22日星期日" in reply  # the preview renders with today's data
    b = await Broadcast.get(job=None)
    assert await at(c, cst(2026, 11, 23, 7, 59)) == 0
    assert await sent_to("console:g1") == []
    assert await at(c, cst(2026, 11, 23, 8, 0)) == 1
    assert await at(c, cst(2026, 11, 23, 8, 0, 30)) == 0  # a second tick sends nothing
    assert await sent_to("console:g1") == ["早上好，今天是11月23日星期一"]
    await at(c, cst(2026, 11, 24, 8, 0))
    assert await sent_to("console:g1") == [
        "早上好，今天是11月23日星期一",
        "早上好，今天是11月24日星期二",
    ]
    await b.refresh_from_db()
    assert b.next_fire_at == cst(2026, 11, 25, 8, 0)
    assert await sent_to("console:g2") == []  # only this group


@pytest.mark.parametrize(
    "rule, fires",
    [
        ("每周一 09:00", [cst(2026, 11, 23, 9, 0), cst(2026, 11, 30, 9, 0)]),
        ("每月1日 10:00", [cst(2026, 12, 1, 10, 0), cst(2027, 1, 1, 10, 0)]),
        ("0 12 * * 1-5", [cst(2026, 11, 23, 12, 0), cst(2026, 11, 24, 12, 0)]),
        ("工作日 8:30", [cst(2026, 11, 23, 8, 30), cst(2026, 11, 24, 8, 30)]),
    ],
)
async def test_weekly_monthly_and_cron_rules_fire_on_their_days(town, rule, fires):
    c = town
    assert (await c.one(f"/定时 {rule} 例会提醒", user="secretary", group="g1")).startswith(
        "已安排广播"
    )
    for when in fires:
        assert await at(c, when - timedelta(minutes=1)) == 0
        assert await at(c, when) == 1
    assert len(await sent_to("console:g1")) == 2


async def test_quiet_hours_postpone_to_seven(town):
    c = town
    reply = await c.one("/定时 每天 06:00 早读", user="secretary", group="g1")
    assert "（22:00–07:00 免打扰，顺延到 2026-11-23 07:00 发出）" in reply
    assert await at(c, cst(2026, 11, 23, 6, 30)) == 0
    assert await at(c, cst(2026, 11, 23, 7, 0)) == 1
    assert await sent_to("console:g1") == ["早读"]
    f = await BroadcastFiring.get()
    assert f.fire_at == cst(2026, 11, 23, 6, 0) and f.started_at == cst(2026, 11, 23, 7, 0)


async def test_cancel_before_fire_sends_nothing(town):
    c = town
    await c.one("/定时 每天 08:00 早上好", user="secretary", group="g1")
    b = await Broadcast.get(job=None)
    assert await c.one(f"/取消广播 {b.id}", user="secretary", group="g1") == (
        f"已取消广播 #{b.id}，之后不会再发送。已经发出的消息不会撤回。"
    )
    assert await at(c, cst(2026, 11, 23, 8, 0)) == 0
    assert await sent_to("console:g1") == []
    again = await c.one(f"/取消广播 {b.id}", user="secretary", group="g1")
    assert again == f"广播 #{b.id} 已经取消了，不用再取消。"


async def test_missed_beyond_grace_is_recorded_skipped_within_grace_is_sent(town):
    c = town
    await c.one("/定时 每天 08:00 早上好", user="secretary", group="g1")
    # down from before 08:00 on the 23rd until 09:30: past the 1-hour grace
    assert await at(c, cst(2026, 11, 23, 9, 30)) == 0
    skipped = await BroadcastFiring.get()
    assert (skipped.status, skipped.reason) == ("skipped", "missed")
    # down until 08:40 on the 24th: still within grace, so it goes (late)
    assert await at(c, cst(2026, 11, 24, 8, 40)) == 1
    assert await sent_to("console:g1") == ["早上好"]
    b = await Broadcast.get(job=None)
    detail = await c.one(f"/广播 {b.id}", user="secretary", group="g1")
    assert "· 2026-11-24 08:00 已发 1/1" in detail
    assert "· 2026-11-23 08:00 未发（服务停机超过宽限期，已记录跳过）" in detail


async def test_all_groups_means_my_organisation_and_below(town):
    c = town
    reply = await c.one("/定时 每天 08:00 全部群 {{组织}}：请按时参加", user="secretary")
    assert "发给：“和平社区党委”及下级的全部群" in reply
    await at(c, cst(2026, 11, 23, 8, 0))
    assert await sent_to("console:g1") == ["和平社区党委：请按时参加"]
    assert len(await sent_to("console:g2")) == 1  # the branch below
    assert await sent_to("console:g3") == []  # another community


async def test_topic_subscribers_and_unsubscribe(town):
    c = town
    assert (await c.one("/订阅 每日党课 SQ001", user="u1")).startswith(
        "已订阅“每日党课”（和平社区党委）"
    )
    assert (await c.one("/订阅 每日党课 ZB001", user="u2")).startswith("已订阅“每日党课”")
    await c.one("/订阅 每日党课 SQ002", user="u3")  # another community: not reached
    assert await c.one("/订阅 每日党课", user="u2") == "您已经订阅了“每日党课”。"
    assert "没有“天气”这个主题" in await c.one("/订阅 天气", user="u2")
    admin_reply = await c.one("/定时 每天 07:30 每日党课", user="secretary")
    assert "发给：订阅“每日党课”的人" in admin_reply
    await at(c, cst(2026, 11, 23, 7, 30))
    day1 = await sent_to("console:u1")
    assert len(day1) == 1 and day1[0].startswith("【每日党课】")
    assert await sent_to("console:u2") == day1
    assert (await c.one("/退订 每日党课", user="u2")).startswith("已退订“每日党课”")
    await at(c, cst(2026, 11, 24, 7, 30))
    assert len(await sent_to("console:u1")) == 2
    assert await sent_to("console:u2") == day1  # nothing more after unsubscribing
    # the lesson rotates: a different one on the next day
    texts = await sent_to("console:u1")
    assert texts[0] != texts[1]
    assert await Subscription.filter(topic="每日党课").count() == 2
    assert await sent_to("console:u3") == []


async def test_who_may_broadcast_where(town):
    c = town
    denied = await c.one("/广播 12", user="bob", group="g1")
    assert "党务工作者" in denied
    # an officer of another community cannot broadcast into this community's group
    other = await c.one("/定时 每天 08:00 你好", user="sq2", group="g1")
    assert "党务工作者" in other and await Broadcast.filter(job=None).count() == 0
    # in private, the officer must say to whom
    private = await c.one("/定时 每天 08:00 你好", user="secretary")
    assert private.startswith("私聊里请写明发给谁")
    # nor can they see or cancel another community's broadcast
    await c.one("/定时 每天 08:00 你好", user="sq2", group="g3")
    b = await Broadcast.get(job=None)
    assert f"没有找到广播 #{b.id}" in await c.one(f"/取消广播 {b.id}", user="secretary")
    assert (await Broadcast.get(id=b.id)).status == "active"


async def test_bad_rule_and_bad_template_are_explained(town):
    c = town
    assert "没看懂规则“每年 8点 你好”" in await c.one(
        "/定时 每年 8点 你好", user="secretary", group="g1"
    )
    assert "小时 0–23" in await c.one("/定时 每天 25:00 你好", user="secretary", group="g1")
    bad = await c.one("/定时 每天 08:00 今天{{ 天气 }}", user="secretary", group="g1")
    assert bad.startswith("内容里的变量写法有误")
    assert await Broadcast.filter(job=None).count() == 0
    sent = await c.one("/预览 今天是{{星期}}，{{组织}}", user="secretary", group="g1")
    assert sent == "/预览 的结果已私信发送给您，请查看与我的私聊。"
    preview = await private_answer("secretary")
    assert preview == "预览（只有您能看到）：\n今天是星期日，和平社区党委"
    assert await Delivery.filter(purpose="broadcast").count() == 0


async def test_crash_recovery_sends_pending_and_never_resends_in_flight(town):
    """Rows left by a dead process: 'sending' ones become unknown, 'pending' ones go."""
    c = town
    await c.one("/定时 每天 08:00 全部群 通知", user="secretary")
    b = await Broadcast.get(job=None)
    firing = await BroadcastFiring.create(
        broadcast=b, fire_at=cst(2026, 11, 23, 8, 0), status="sending", targets=2
    )
    for target, status in (("console:g1", "sending"), ("console:g2", "pending")):
        await Delivery.create(
            target=target, platform="console", purpose="broadcast", text="通知", status=status,
            dedup_key=f"bc:{b.id}:x:{target}", firing_id=firing.id,
        )  # fmt: skip
    assert await c.runtime.broadcaster.recover() == 1
    rows = {d.target: d.status for d in await Delivery.filter(firing_id=firing.id)}
    assert rows == {"console:g1": "unknown", "console:g2": "sent"}
    await firing.refresh_from_db()
    assert (firing.status, firing.sent, firing.uncertain) == ("done", 1, 1)


async def test_regained_lead_waits_for_the_tick_still_finishing(town):
    """Leadership lost mid-firing and won back: recovery waits for this process's own
    tick to write its answers, so a row it sent is counted sent, not uncertain."""
    import asyncio

    c = town
    await c.one("/定时 每天 08:00 全部群 通知", user="secretary")
    b = await Broadcast.get(job=None)
    firing = await BroadcastFiring.create(
        broadcast=b, fire_at=cst(2026, 11, 23, 8, 0), status="sending", targets=1
    )
    row = await Delivery.create(
        target="console:g1", platform="console", purpose="broadcast", text="通知",
        status="sending", dedup_key=f"bc:{b.id}:y:console:g1", firing_id=firing.id,
    )  # fmt: skip
    broadcaster = c.runtime.broadcaster
    async with broadcaster._lock:  # the tick, its post on the wire
        broadcaster.leadership.is_leader = False
        election = asyncio.create_task(broadcaster.elect())
        await asyncio.sleep(0.05)
        assert not election.done()
        await Delivery.filter(id=row.id).update(status="sent")  # the tick's answer
    assert await election
    rows = await Delivery.filter(firing_id=firing.id).values_list("status", flat=True)
    assert rows == ["sent"]
    await firing.refresh_from_db()
    assert (firing.status, firing.sent, firing.uncertain) == ("done", 1, 0)


async def test_stop_waits_for_a_tick_no_longer_than_its_budget(town, caplog):
    """SIGTERM during a tick: the broadcaster waits at most what is left of
    shutdown_timeout, then gives up the lead; with the tick done, no time is needed."""
    import asyncio

    broadcaster = town.runtime.broadcaster
    loop = asyncio.get_running_loop()
    async with broadcaster._lock:  # a tick still sending
        started = loop.time()
        await asyncio.wait_for(broadcaster.stop(0.2), 5)
        assert 0.2 <= loop.time() - started < 2
    assert not broadcaster.is_leader
    assert "stopping while a tick is still running" in caplog.text
    caplog.clear()
    await broadcaster.stop(0)  # nothing running: nothing to wait for, nothing to warn of
    assert "stopping while a tick is still running" not in caplog.text


async def test_service_jobs_fire_through_the_broadcaster(town):
    """The request deadline reminder is a job row the leader fires, once per request."""
    from models.requests import ServiceRequest

    c = town
    await c.one("/诉求 楼道灯坏了", user="bob", group="g1")
    job = await Broadcast.get(job="requests.deadline_reminders")
    assert job.audience == "job"
    # past the deadline: one reminder, however often the job runs
    later = (await ServiceRequest.get()).due_at + timedelta(hours=1)
    await Broadcast.filter(id=job.id).update(next_fire_at=later)
    await at(c, later)
    await at(c, later + timedelta(minutes=15))
    await at(c, later + timedelta(minutes=30))
    rows = await Delivery.filter(purpose="request_due")
    # to the officer of SQ001 in private, never to the residents' group g1
    assert len(rows) == 1 and rows[0].target == "console:secretary" and rows[0].status == "sent"


async def test_only_the_leader_fires(town):
    c = town
    await c.one("/定时 每天 08:00 早上好", user="secretary", group="g1")
    await c.runtime.broadcaster.leadership.release()
    assert await at(c, cst(2026, 11, 23, 8, 0)) == 0
    assert await sent_to("console:g1") == []
    assert await c.runtime.broadcaster.elect()
    assert await c.runtime.broadcaster.tick() == 1


async def test_one_off_broadcast_at_a_typed_time(town):
    c = town
    reply = await c.one("/广播 今天 18:00 今晚七点停水，请提前储水。", user="secretary", group="g1")
    assert "时间：2026-11-22 18:00" in reply and "发给：本群" in reply
    soon = await c.one("/广播 10分钟后 全部群 马上开会", user="secretary", group="g1")
    assert "时间：2026-11-22 10:10" in soon
    assert await at(c, cst(2026, 11, 22, 10, 10)) == 1
    assert await sent_to("console:g2") == ["马上开会"]
    assert await at(c, cst(2026, 11, 22, 18, 0)) == 1
    assert await sent_to("console:g1") == ["马上开会", "今晚七点停水，请提前储水。"]
    assert await at(c, cst(2026, 11, 23, 18, 0)) == 0  # once means once
    past = await c.one("/广播 今天 9:00 早", user="secretary", group="g1")
    assert past == "发送时间 2026-11-23 09:00 已经过去了，请写一个将来的时间。"  # now: 23rd 18:00
    bad = await c.one("/广播 后年 你好", user="secretary", group="g1")
    assert bad.startswith("没看懂发送时间")
    listing = await c.one("/广播列表", user="secretary", group="g1")
    assert listing.startswith("没有生效中的广播")


async def test_reading_the_lesson_counts_once_a_day(town):
    from models.activities import PointsEntry

    c = town

    # A lesson is longer than a phone screen: Console.whole reads on with "更多".
    first = await c.whole("/学习", user="u1")
    assert first.startswith("【每日党课】") and "学习打卡成功，积分 +1。" in first
    again = await c.whole("/学习", user="u1")
    assert again.startswith("【每日党课】") and "学习打卡成功" not in again
    assert await PointsEntry.filter(kind="lesson").count() == 1
    c.runtime.clock.set(cst(2026, 11, 23, 9, 0))
    assert "学习打卡成功" in await c.whole("/学习", user="u1")
    assert await PointsEntry.filter(kind="lesson").count() == 2
