"""组织生活菜单，从聊天窗口里用（/console 渠道，真实 HTTP，SQLite 与 PostgreSQL）。"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from models.activities import Activity, CheckinAttempt, PointsEntry, Signup, TimeBankEntry
from models.deliveries import Delivery
from models.people import Organization, RoleGrant
from tests.conftest import grant_officer, private_answer
from tests.jobs import fire_job

ONE_LINE = "/发布活动 敬老院志愿服务 | 明天 14:00-16:00 | 幸福敬老院 | 2人 | 志愿2小时 | 所有人"


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary is its officer); an officer of SQ002."""
    await grant_officer("sq2", "SQ002")
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    return console


async def grant_member(user: str, code: str) -> None:
    from bot.identity import IdentityService

    identity = IdentityService()
    person = await identity.ensure_person("console", user, user)
    await identity.grant(person, "member", await Organization.get(code=code))


async def publish(c, line: str = ONE_LINE) -> Activity:
    text = await c.one(line, user="secretary", group="g1")
    assert text.startswith("活动已发布，编号 "), text
    return await Activity.all().order_by("-id").first()


async def starts_soon(act: Activity, minutes: int = 10) -> Activity:
    """Move the activity so that it starts in `minutes` (the check-in window is open)."""
    now = datetime.now(UTC)
    await Activity.filter(id=act.id).update(
        starts_at=now + timedelta(minutes=minutes),
        ends_at=now + timedelta(minutes=minutes + 120),
        signup_deadline=now + timedelta(minutes=minutes),
    )
    return await Activity.get(id=act.id)


async def test_publish_one_line_and_menu(town):
    c = town
    act = await publish(c)
    assert (act.title, act.kind, act.capacity, act.audience) == (
        "敬老院志愿服务",
        "volunteer",
        2,
        "everyone",
    )
    assert act.volunteer_hours == Decimal("2.0") and act.ends_at - act.starts_at == timedelta(
        hours=2
    )
    assert act.reply_target == "console:g1"
    menu = await c.one("/活动", user="bob")
    assert menu.startswith("组织生活菜单（共 1 项，第 1/1 页）")
    assert f"{act.id}. 敬老院志愿服务（志愿服务）" in menu and "余 2 个名额" in menu
    assert "幸福敬老院" in menu
    # the English names work too
    assert "敬老院志愿服务" in await c.one("/activities", user="bob")


async def test_publish_refusals(town):
    c = town
    text = await c.one("/发布活动 x | 明天 14:00-16:00 | 地点", user="bob", group="g1")
    assert text.startswith("/发布活动 只有党务工作者")
    text = await c.one("/发布活动 开会 | 2020-01-01 14:00-16:00 | 会议室", user="secretary")
    assert text == "开始时间 2020-01-01 14:00 已经过去了，请写一个以后的时间。"
    text = await c.one("/发布活动 开会 | 明天 16:00-14:00 | 会议室", user="secretary")
    assert text.startswith("结束时间 ") and "不晚于开始时间" in text
    text = await c.one("/发布活动 开会 | 随便 | 会议室", user="secretary")
    assert text.startswith("没看懂时间“随便”")
    text = await c.one("/发布活动 开会 | 明天 14:00 | 会议室", user="secretary")
    assert text == "请写明开始和结束时间，例如：11月30日 14:00-16:00。"
    text = await c.one("/发布活动 开会 | 明天 14:00-16:00 | 会议室 | 很多人", user="secretary")
    assert text.startswith("一行发布没看懂“很多人”")
    text = await c.one("/发布活动 开会 | 明天 14:00-16:00", user="secretary")
    assert text.startswith("一行发布没看懂")
    assert await Activity.all().count() == 0


async def test_publish_dialog_step_by_step(town):
    c = town
    assert "第 1 步" in await c.one("/发布活动", user="secretary")
    assert "第 2 步" in await c.one("十一月党课", user="secretary")
    assert "没有“9”这个类别" in await c.one("9", user="secretary")
    assert "第 3 步" in await c.one("4", user="secretary")
    past = await c.one("2020-01-01 9:00", user="secretary")
    assert past.startswith("开始时间 2020-01-01 09:00 已经过去了")
    assert "什么时候开始" in past
    assert "只有日期" in await c.one("下周三", user="secretary")
    assert "几点结束" in await c.one("下周三 9:30", user="secretary")
    bad_end = await c.one("8:00", user="secretary")
    assert "不晚于开始时间" in bad_end and "几点结束" in bad_end
    assert "第 4 步" in await c.one("11:00", user="secretary")
    assert "第 5 步" in await c.one("党群服务中心", user="secretary")
    assert "名额要写" in await c.one("很多", user="secretary")
    assert "第 6 步" in await c.one("30人", user="secretary")
    assert "没看懂参加对象" in await c.one("外星人", user="secretary")
    assert "第 7 步" in await c.one("1", user="secretary")
    assert "第 8 步" in await c.one("0", user="secretary")
    done = await c.one("无", user="secretary")
    assert done.startswith("活动已发布") and "类别：党课" in done
    act = await Activity.get(title="十一月党课")
    assert (act.kind, act.capacity, act.audience, act.place) == (
        "lecture",
        30,
        "org",
        "党群服务中心",
    )
    assert act.signup_deadline == act.starts_at
    assert act.org_id == (await Organization.get(code="SQ001")).id


async def test_signup_waitlist_promotion_and_privacy(town):
    c = town
    act = await publish(c)
    n = act.id
    assert (await c.one(f"/报名 {n}", user="bob")).startswith("报名成功：敬老院志愿服务")
    assert (await c.one(f"/报名 {n}", user="carol")).startswith("报名成功")
    queued = await c.one(f"/报名 {n}", user="dave")
    assert queued.startswith("名额已满，您已进入候补，排第 1 位")
    assert "排第 1 位" in await c.one(f"/报名 {n}", user="dave")
    assert "不用重复报名" in await c.one(f"/报名 {n}", user="bob")
    # names only to officers of its scope
    public = await c.one(f"/活动 {n}", user="eve")
    assert "已报名 2 人，余 0 个，候补 1 人" in public and "bob" not in public
    assert "报名：/报名" in public
    officer = await c.one(f"/活动 {n}", user="secretary")
    assert "报名名单：bob、carol" in officer and "候补：1. dave" in officer
    assert "bob" not in await c.one(f"/活动 {n}", user="sq2")
    # bob cancels: dave is promoted and told
    assert (await c.one(f"/取消报名 {n}", user="bob")).startswith("已取消报名")
    told = await Delivery.get(target="console:dave", purpose="activity")
    assert told.text.startswith("候补递补：“敬老院志愿服务”（活动")
    assert f"/确认参加 {n}" in told.text
    assert "【待确认：" in await c.one("/我的活动", user="dave")
    assert "候补递补给您了：请在" in await c.one(f"/活动 {n}", user="dave")
    assert (await c.one(f"/确认参加 {n}", user="dave")).startswith("已确认参加")
    mine = await c.one("/我的活动", user="dave")
    assert f"{n}. 敬老院志愿服务" in mine and "候补" not in mine and "待确认" not in mine
    assert "没有报名活动" in await c.one(f"/取消报名 {n}", user="bob")
    assert "还没有报名活动" in await c.one("/我的活动", user="zoe")
    rows = await Signup.filter(activity_id=n).order_by("id").values_list("status", flat=True)
    assert rows == ["cancelled", "confirmed", "confirmed"]


async def test_signup_misuse(town):
    c = town
    act = await publish(c)
    org_only = await publish(c, "/发布活动 支部会议 | 明天 9:00-10:00 | 会议室 | 本组织")
    text = await c.one(f"/报名 {org_only.id}", user="bob")
    assert text.startswith(f"活动 {org_only.id} 只面向本组织的党员")
    assert "不对您开放" in await c.one(f"/活动 {org_only.id}", user="bob")
    assert "支部会议" not in await c.one("/活动", user="bob")
    assert "没有找到活动“999”" in await c.one("/报名 999", user="bob")
    assert "没有找到活动“abc”" in await c.one("/报名 abc", user="bob")
    assert (await c.one("/报名", user="bob")).startswith("/报名 的格式不对")
    # after the deadline
    await Activity.filter(id=act.id).update(
        signup_deadline=datetime.now(UTC) - timedelta(minutes=1)
    )
    assert "的报名已于" in await c.one(f"/报名 {act.id}", user="bob")
    # cancelled: signed-up people are told
    other = await publish(c)
    await c.one(f"/报名 {other.id}", user="bob")
    assert "原因：场地维修" in await c.one(f"/取消活动 {other.id} 场地维修", user="secretary")
    told = await Delivery.get(target="console:bob", purpose="activity")
    assert told.text.startswith("活动取消：“敬老院志愿服务”") and "原因：场地维修" in told.text
    assert "已经取消了" in await c.one(f"/报名 {other.id}", user="carol")
    assert "已经取消了" in await c.one(f"/取消活动 {other.id} 再取消", user="secretary")
    assert "您不是它的党务工作者" in await c.one(f"/取消活动 {act.id} 不办了", user="sq2")
    assert (await c.one(f"/取消活动 {act.id}", user="secretary")).startswith("/取消活动 的格式不对")
    assert await Signup.filter(activity_id=act.id).count() == 0


async def test_edit_notifies_and_promotes(town):
    c = town
    act = await publish(c)
    for u in ("bob", "carol", "dave"):
        await c.one(f"/报名 {act.id}", user=u)
    text = await c.one(f"/修改活动 {act.id} 名额 3", user="secretary")
    assert "1 位候补已递补" in text
    assert (await Delivery.get(target="console:dave")).text.startswith("候补递补：")
    text = await c.one(f"/修改活动 {act.id} 地点 党群服务中心二楼", user="secretary")
    assert "已通知报名的人" in text
    changed = await Delivery.filter(target="console:bob", purpose="activity").first()
    assert changed.text.startswith("活动变更：") and "地点：党群服务中心二楼" in changed.text
    # a second change within the same second is a notice of its own (keys are per change)
    await c.one(f"/修改活动 {act.id} 地点 党群服务中心三楼", user="secretary", event_id="e2")
    told = [d.text for d in await Delivery.filter(target="console:bob", purpose="activity")]
    assert any("地点：党群服务中心三楼" in t for t in told), told
    # and a retry of that message is not told twice
    await c.say(f"/修改活动 {act.id} 地点 党群服务中心三楼", user="secretary", event_id="e2")
    assert await Delivery.filter(target="console:bob", purpose="activity").count() == len(told)
    await c.one(f"/修改活动 {act.id} 地点 党群服务中心二楼", user="secretary")
    assert "名额不能少于 3" in await c.one(f"/修改活动 {act.id} 名额 2", user="secretary")
    assert "没看懂要改什么" in await c.one(f"/修改活动 {act.id} 颜色 红", user="secretary")
    assert "已经过去了" in await c.one(
        f"/修改活动 {act.id} 时间 2020-01-01 9:00-10:00", user="secretary"
    )
    await c.one(f"/修改活动 {act.id} 时间 后天 9:00-11:00", user="secretary")
    fresh = await Activity.get(id=act.id)
    assert (
        fresh.ends_at - fresh.starts_at == timedelta(hours=2) and fresh.place == "党群服务中心二楼"
    )


async def test_attend_code_lockout_timebank_and_points(town):
    c = town
    act = await starts_soon(await publish(c))
    n = act.id
    await c.one(f"/报名 {n}", user="bob")
    await grant_member("bob", "ZB001")  # points are for members; carol stays a resident
    assert "还没有签到码" in await c.one(f"/签到 {n} 1234", user="bob")
    assert "只有党务工作者" in await c.one(f"/签到码 {n}", user="bob")
    # typed in the group, the code goes to the officer alone (else anyone there checks in)
    sent = await c.one(f"/签到码 {n}", user="secretary", group="g1")
    assert sent == "/签到码 的结果已私信发送给您，请查看与我的私聊。"
    text = await private_answer("secretary")
    code = (await Activity.get(id=n)).checkin_code
    assert f"的签到码：{code}" in text and f"/签到 {n} {code}" in text
    wrong = "0000" if code != "0000" else "1111"
    for left in (4, 3, 2, 1):
        assert f"还可以再试 {left} 次" in await c.one(f"/签到 {n} {wrong}", user="bob")
    assert "之前不能再签到" in await c.one(f"/签到 {n} {wrong}", user="bob")
    assert "输错次数太多" in await c.one(f"/签到 {n} {code}", user="bob")
    assert await Signup.filter(activity_id=n, attended_at__isnull=False).count() == 0
    # the lock-out is in the database: lift it as if ten minutes had passed
    await CheckinAttempt.filter(activity_id=n).update(
        locked_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    ok = await c.one(f"/签到 {n} {code}", user="bob")
    assert ok.startswith("签到成功：敬老院志愿服务") and "志愿时长 +2.0 小时" in ok
    assert "积分 +25" in ok  # 5 for attending, 10 per volunteer hour
    assert "签到过活动" in await c.one(f"/签到 {n} {code}", user="bob")
    walk = await c.one(f"/签到 {n} {code}", user="carol")
    assert "已为您现场报名" in walk
    assert "名额已满，不能现场签到" in await c.one(f"/签到 {n} {code}", user="dave")
    bank = await c.one("/时间银行", user="bob")
    assert bank.startswith("时间银行余额：2.0 小时") and "存入 +2.0 小时 敬老院志愿服务" in bank
    pts = await c.one("/积分", user="bob")
    assert pts.startswith("我的积分：本月 25 分，累计 25 分")
    assert "活动签到 5 · 志愿服务 20 · 学习 0" in pts
    # redemption by an officer: ledger rows, no overdraft
    text = await c.one("/兑换 bob 1.5 理发一次", user="secretary")
    assert text == "已兑换：bob 用 1.5 小时兑换“理发一次”，余额 0.5 小时。"
    notice = await Delivery.filter(target="console:bob", purpose="activity").order_by("-id").first()
    assert notice.text == "时间银行：您用 1.5 小时兑换了“理发一次”，余额 0.5 小时。"
    assert await c.one("/兑换 bob 1 米一袋", user="secretary") == (
        "bob 的时间银行余额只有 0.5 小时，不够兑换 1.0 小时。"
    )
    assert "没有找到“nobody”" in await c.one("/兑换 nobody 1 米", user="secretary")
    assert "没有找到“bob”" in await c.one("/兑换 bob 0.5 米", user="sq2")  # not in scope
    assert "只有党务工作者" in await c.one("/兑换 bob 0.5 米", user="carol")
    entries = await TimeBankEntry.filter(person__nickname="bob").order_by("id")
    assert [(e.kind, e.hours) for e in entries] == [
        ("credit", Decimal("2.0")),
        ("redeem", Decimal("-1.5")),
    ]
    assert entries[1].officer_id is not None
    assert "余额：0.5 小时" in await c.one("/时间银行", user="bob")
    assert "兑换 -1.5 小时 理发一次" in await c.one("/时间银行", user="bob")


async def test_attend_window(town):
    c = town
    act = await publish(c)  # tomorrow: the window is not open yet
    text = await c.one(f"/签到码 {act.id}", user="secretary")
    assert text.startswith(f"活动 {act.id} 的签到时间是 ") and text.endswith("还没开始。")


async def test_rank_and_lessons(town):
    c = town
    sq = await Organization.get(code="SQ001")
    people = {}
    for user in ("bob", "carol"):
        assert "报名成功" in await c.one(f"/报名 {(await publish(c)).id}", user=user)
        s = await Signup.filter(person__identities__user_id=user).first()
        people[user] = s.person_id
        await RoleGrant.create(person_id=s.person_id, role="member", org=sq)
    from models.activities import award_points

    now = datetime.now(UTC)
    await award_points(people["bob"], "lesson", 3, "lesson:1", now=now)
    await award_points(people["carol"], "attendance", 5, "act:1", now=now)
    text = await c.one("/排行", user="bob", group="g1")
    assert text.startswith("和平社区党委 · 本月积分排行")
    assert "1. carol 5 分" in text and "2. bob 3 分" in text
    lessons = await c.one("/排行 学习", user="bob")
    assert "学习达人榜" in lessons and "1. bob 3 分（我）" in lessons and "carol" not in lessons
    assert "不知道您属于哪个组织" in await c.one("/排行", user="zoe")
    assert await PointsEntry.all().count() == 2


async def test_compliance_command(town):
    c = town
    assert "您负责的范围里没有支部" in await c.one("/三会一课", user="sq2")
    text = await c.one("/三会一课", user="secretary")
    assert "【和平社区第一党支部】党员 0 人" in text
    assert "支部党员大会（本季度）：未开展" in text and "支委会（本月）：未开展" in text
    await publish(c, "/发布活动 支委会 | 明天 9:00-10:00 | 会议室 | 支委会")
    await Activity.filter(title="支委会").update(org=await Organization.get(code="ZB001"))
    text = await c.one("/三会一课", user="secretary")
    assert "支委会（本月）：已安排，未开" in text or "支委会（本月）：未开展" in text
    assert "只有党务工作者" in await c.one("/三会一课", user="bob")


async def test_concurrent_signups_over_http(town):
    c = town
    act = await publish(c, "/发布活动 讲座 | 明天 9:00-10:00 | 礼堂 | 10人 | 所有人")
    replies = await asyncio.gather(*(c.one(f"/报名 {act.id}", user=f"u{i}") for i in range(30)))
    assert sum(r.startswith("报名成功") for r in replies) == 10
    assert sum(r.startswith("名额已满") for r in replies) == 20
    assert (await Activity.get(id=act.id)).confirmed_count == 10
    rows = await Signup.filter(activity_id=act.id).order_by("id").values_list("status", flat=True)
    assert rows == ["confirmed"] * 10 + ["waitlisted"] * 20


async def test_reminders_and_summary_sent_once(town, client):
    """The jobs activities.reminders and activities.summaries, fired as the broadcaster
    does (tests/jobs.py): each reminder and the summary sent once, whatever the firings."""
    from bot.app import RUNTIME

    c = town
    act = await publish(c)
    await c.one(f"/报名 {act.id}", user="bob")
    await c.one(f"/报名 {act.id}", user="carol")
    await c.one(f"/报名 {act.id}", user="dave")  # waitlisted: no reminder
    runtime = client.server.app[RUNTIME]
    remind, summary = "activities.reminders", "activities.summaries"
    far = act.starts_at - timedelta(hours=3)
    assert await fire_job(runtime, remind, far) == []
    soon = act.starts_at - timedelta(hours=1, minutes=55)
    sent = await fire_job(runtime, remind, soon)
    assert sorted(d.target for d in sent) == ["console:bob", "console:carol"]
    await fire_job(runtime, remind, soon + timedelta(minutes=5))
    rows = await Delivery.filter(purpose="activity_reminder")
    assert len(rows) == 2 and rows[0].text.startswith("活动提醒：“敬老院志愿服务”将于")
    # after the start: no more reminders; after the end: the summary to the publisher, once
    assert await fire_job(runtime, remind, act.starts_at + timedelta(minutes=1)) == []
    assert await fire_job(runtime, summary, act.ends_at - timedelta(minutes=1)) == []
    code = await act.issue_code(now=act.starts_at)
    from bot.identity import Caller

    bob = await Signup.filter(activity_id=act.id).order_by("id").first()
    await act.attend(await bob.person, Caller("console", "bob", "bob"), code, now=act.starts_at)
    after = act.ends_at + timedelta(minutes=3)
    await fire_job(runtime, summary, after)
    await fire_job(runtime, summary, after + timedelta(minutes=5))
    rows = await Delivery.filter(purpose="activity_summary")
    assert len(rows) == 1 and rows[0].target == "console:secretary"
    assert rows[0].text == (
        f"签到汇总：“敬老院志愿服务”（活动 {act.id}）已结束。报名 2 人，"
        "签到 1 人（党员 0，群众 1），到场率 50.0%。"
    )
    # a day after the end it is no longer due (a restart does not replay old summaries)
    from handlers.activities.jobs import summary_pushes

    assert await summary_pushes(runtime, act.ends_at + timedelta(days=2)) == []


async def test_jobs_are_scheduled(client):
    """Both jobs are Broadcast rows the leader fires every 5 minutes (bot/broadcaster.py)."""
    from models.broadcasts import Broadcast

    for name in ("activities.reminders", "activities.summaries"):
        row = await Broadcast.get(job=name)
        assert (row.rule, row.audience, row.status) == ("every:300", "job", "active")


async def test_help_lists_the_commands(town):
    c = town
    text = await c.whole("/帮助 全部", user="bob")
    for name in (
        "/活动",
        "/报名",
        "/取消报名",
        "/我的活动",
        "/签到",
        "/时间银行",
        "/积分",
        "/排行",
    ):
        assert name in text
    assert "/发布活动" not in text
    officer = await c.whole("/帮助 全部", user="secretary")
    for name in ("/发布活动", "/修改活动", "/取消活动", "/签到码", "/兑换", "/三会一课"):
        assert name in officer
    assert "用法：/签到 编号 签到码" in await c.one("/帮助 签到", user="bob")
