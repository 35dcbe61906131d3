"""时间银行与积分的后续，从聊天窗口里用：递补确认过期、自报时长、申诉与调整、兑换目录与核销码。"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from bot.app import RUNTIME
from models.activities import Activity, PointsEntry, Signup, TimeBankEntry, balance
from models.claims import PointsAppeal, VolunteerClaim
from models.deliveries import Delivery
from models.people import Organization, Person
from models.redemption import CatalogueItem, Redemption
from tests.conftest import grant_officer, private_answer
from tests.jobs import fire_job
from tests.test_activities_chat import grant_member, publish, town  # noqa: F401 (fixture)


async def last_to(user: str) -> str:
    row = await Delivery.filter(target=f"console:{user}").order_by("-id").first()
    return row.text if row else ""


async def test_an_unconfirmed_offer_passes_on(town, client):  # noqa: F811
    """The job timebank.offers_expiry, fired as the broadcaster does (tests/jobs.py)."""
    c = town
    act = await publish(c)  # 2 seats
    n = act.id
    for user in ("bob", "carol", "dave", "erin"):
        await c.one(f"/报名 {n}", user=user)
    await c.one(f"/取消报名 {n}", user="bob")
    offer = await Signup.get(activity_id=n, status="offered")
    assert "/确认参加" in await last_to("dave")
    rt = client.server.app[RUNTIME]
    job = "timebank.offers_expiry"
    await fire_job(rt, job, offer.offer_expires_at - timedelta(minutes=1))
    assert (await Signup.get(id=offer.id)).status == "offered"
    await fire_job(rt, job, offer.offer_expires_at + timedelta(minutes=1))
    assert (await last_to("dave")).startswith("您没有在期限内确认参加“敬老院志愿服务”")
    assert (await last_to("erin")).startswith("候补递补：“敬老院志愿服务”")
    text = await c.one(f"/确认参加 {n}", user="dave")
    assert text == f"活动 {n} 没有递补给您的名额，不用确认。/我的活动 查看报名情况。"
    assert (await c.one(f"/确认参加 {n}", user="erin")).startswith("已确认参加：敬老院志愿服务")


async def test_self_reported_hours(town):  # noqa: F811
    c = town
    assert "还不知道您属于哪个组织" in await c.one("/登记时长 陪聊 2小时", user="bob")
    await grant_member("bob", "ZB001")
    assert "请写明小时数" in await c.one("/登记时长 敬老院陪聊", user="bob")
    text = await c.one("/登记时长 敬老院陪老人聊天 2小时 11月28日", user="bob")
    m = re.match(r"已登记，编号 (\d+)：敬老院陪老人聊天 2.0 小时（2026-11-28）", text)
    assert m, text
    first = m.group(1)
    second = re.search(r"编号 (\d+)", await c.one("/登记时长 扫雪 1小时", user="bob")).group(1)
    queue = await c.one("/时长审核", user="secretary")
    assert f"{first}. bob 2026-11-28 敬老院陪老人聊天 2.0 小时" in queue
    assert "不是它的党务工作者" in await c.one(f"/确认时长 {first}", user="sq2")
    assert (await c.one(f"/确认时长 {first}", user="secretary")).startswith(f"已确认 {first} 号")
    assert "已经确认过了" in await c.one(f"/确认时长 {first}", user="secretary")
    assert (await last_to("bob")).startswith("您登记的志愿时长（敬老院陪老人聊天 2.0 小时）已确认")
    await c.one(f"/驳回时长 {second} 当天没有下雪", user="secretary")
    assert "原因：当天没有下雪" in await last_to("bob")
    bob = await Person.get(nickname="bob")
    assert await balance(bob.id) == Decimal("2.0")
    assert "自报确认 +2.0 小时" in await c.one("/时间银行", user="bob")


async def test_appeal_then_adjustments_with_reasons(town):  # noqa: F811
    c = town
    await grant_member("bob", "ZB001")
    text = await c.one("/积分申诉 11月20日主题党日签到了没积分", user="bob")
    assert text.startswith("已收到您的申诉（编号")
    assert "11月20日主题党日签到了没积分" in await c.one("/时长审核", user="secretary")
    assert "只有党务工作者" in await c.one("/补积分 bob +5 漏记", user="bob")
    text = await c.one("/补积分 bob +5 11月20日主题党日漏记签到", user="secretary")
    assert text.startswith("已调整 bob 的积分 +5 分，原因：11月20日主题党日漏记签到。申诉")
    assert (await PointsAppeal.get(person__nickname="bob")).status == "resolved"
    assert (await last_to("bob")) == "您的积分调整 +5 分，原因：11月20日主题党日漏记签到。"
    assert "余额只有 0.0 小时" in await c.one("/补时长 bob -1 扣错", user="secretary")
    text = await c.one("/补时长 bob +2 敬老院服务漏记", user="secretary")
    assert "余额 2.0 小时" in text
    points = await c.one("/积分", user="bob")
    assert "调整 5 · 兑换 0" in points
    assert "调整 +5 分：11月20日主题党日漏记签到" in points
    assert "调整 +2.0 小时：敬老院服务漏记" in points
    entry = await PointsEntry.get(kind="adjust")
    assert entry.officer_id is not None and entry.appeal_id is not None


async def test_catalogue_redeem_and_verify(town):  # noqa: F811
    c = town
    await grant_member("bob", "ZB001")
    assert "兑换目录还是空的" in await c.one("/兑换目录", user="bob")
    text = await c.one("/上架 理发一次 2小时 1", user="secretary", group="g1")
    assert text.startswith("已上架：理发一次，2.0 小时，库存 1（和平社区党委）")
    assert "价格要写成" in await c.one("/上架 大米 很多", user="secretary")
    await c.one("/上架 大米 10积分", user="secretary")
    listing = await c.one("/兑换目录", user="bob")
    assert "理发一次 · 2.0 小时 · 剩 1（和平社区党委）" in listing and "大米 · 10 积分" in listing
    assert "余额只有 0.0 小时" in await c.one("/兑换 理发一次", user="bob")
    bob = await Person.get(nickname="bob")
    org = await Organization.get(code="SQ001")
    await TimeBankEntry.create(
        person=bob, org=org, hours=3, kind="credit", created_at=bob.created_at
    )
    text = await c.one("/兑换 理发一次", user="bob")
    code = re.search(r"核销码：(\d{6})", text).group(1)
    assert text.startswith("兑换成功：理发一次，扣 2.0 小时。")
    assert await balance(bob.id) == Decimal("1.0")
    await grant_member("carol", "ZB001")
    assert "已经兑完了" in await c.one("/兑换 理发一次", user="carol")
    assert "只有党务工作者" in await c.one(f"/核销 {code}", user="bob")
    assert "不归您核销" in await c.one(f"/核销 {code}", user="sq2")
    assert (await c.one(f"/核销 {code}", user="secretary")).startswith(
        f"核销成功：{code}，理发一次"
    )
    assert "已经用过了" in await c.one(f"/核销 {code}", user="secretary")
    assert (await last_to("bob")) == f"您的核销码 {code}（理发一次）已核销。"
    assert (await Redemption.get(code=code)).status == "used"
    # a partner merchant of the same street verifies too
    await Organization.create_in_tree(
        "SJ01", "爱心理发店", "partner", await Organization.get(code="JD01")
    )
    await grant_officer("shop", "SJ01")
    await c.one("/补积分 bob +20 测试", user="secretary")
    rice = re.search(r"核销码：(\d{6})", await c.one("/兑换 大米", user="bob")).group(1)
    assert (await c.one(f"/核销 {rice}", user="shop")).startswith(f"核销成功：{rice}，大米")
    assert "已下架：理发一次" in await c.one("/下架 理发一次", user="secretary", group="g1")
    assert await CatalogueItem.filter(status="active").count() == 1
    # the officer-initiated form stays, and a resident cannot use it
    assert "替成员兑换" in await c.one("/兑换 bob 1 米", user="carol")
    assert "已兑换：bob 用 1.0 小时" in await c.one("/兑换 bob 1 米", user="secretary")


async def test_activity_kept_after_claims(town):  # noqa: F811
    """Claims do not touch activities: a claim for a day with an activity is separate."""
    c = town
    act = await publish(c)
    await grant_member("bob", "ZB001")
    await c.one("/登记时长 帮忙布置会场 1小时", user="bob")
    assert await VolunteerClaim.filter(status="pending").count() == 1
    assert (await Activity.get(id=act.id)).confirmed_count == 0


async def test_a_late_cancellation_is_an_absence_in_the_summary(town, client):  # noqa: F811
    from tests.test_activities_chat import starts_soon

    c = town
    act = await starts_soon(await publish(c))
    await grant_member("bob", "ZB001")
    for user in ("bob", "carol"):
        await c.one(f"/报名 {act.id}", user=user)
    await c.one(f"/取消报名 {act.id}", user="carol")  # ten minutes before the start
    await c.one(f"/签到码 {act.id}", user="secretary", group="g1")  # answered in private
    text = await private_answer("secretary")
    code = re.search(r"签到码：(\d{4})", text).group(1)
    await c.one(f"/签到 {act.id} {code}", user="bob")
    rt = client.server.app[RUNTIME]
    await fire_job(rt, "activities.summaries", act.ends_at + timedelta(minutes=3))
    summary = await Delivery.get(purpose="activity_summary")
    assert "报名 1 人，签到 1 人，临时取消 1 人（计缺席），到场率 50.0%。" in summary.text
