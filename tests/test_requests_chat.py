"""诉求工单，从聊天窗口里用（/console 渠道，真实 HTTP）。"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from models.deliveries import Delivery
from models.requests import RequestEvent, ServiceRequest
from tests.conftest import grant_officer, private_answer
from tests.jobs import fire_job


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary), gbm bound to BM01 (kezhang), an officer of SQ002."""
    await grant_officer("kezhang", "BM01")
    await grant_officer("sq2", "SQ002")
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    assert "已把本群绑定" in await console.one("/绑定 BM01", user="kezhang", group="gbm")
    return console


def number_in(text: str) -> str:
    m = re.search(r"Q\d{10}", text)
    assert m, text
    return m.group(0)


async def test_whole_lifecycle_in_chat(town):
    c = town
    filed = await c.one("/诉求 3号楼楼道灯坏了，晚上很黑", user="bob", group="g1")
    no = number_in(filed)
    assert filed.startswith(f"诉求已提交，编号 {no}。")
    assert "类别：维修" in filed and "办理单位：和平社区党委" in filed
    assert f"查看进度：/进度 {no}" in filed
    # the organisation's officers hear of it in private, not the residents' group
    new = await Delivery.get(target="console:secretary", purpose="request")
    assert f"新诉求 {no}（维修）" in new.text

    assert "已接单" in await c.one(f"/接单 {no}", user="secretary", group="g1")
    fwd = await c.one(f"/转单 {no} BM01 需要城管配合", user="secretary", group="g1")
    assert fwd == f"已把 {no} 转给“街道城管科”（BM01），已通知对方。"
    note = await Delivery.get(target="console:kezhang")
    assert "说明：需要城管配合" in note.text
    assert "已接单" in await c.one(f"/接单 {no}", user="kezhang", group="gbm")
    closed = await c.one(f"/回单 {no} 已更换灯泡", user="kezhang", group="gbm")
    assert closed == f"已回单：{no} 办结，已通知诉求人。"
    # the requester is told where they filed it, the group g1: that it was closed, not
    # what the officer wrote
    told = await Delivery.filter(target="console:g1").order_by("-id").first()
    assert f"您的诉求 {no} 已办结，办理结果请私聊我发送 /进度 {no} 查看。" in told.text
    assert "已更换灯泡" not in told.text and f"/评价 {no}" in told.text

    progress = await c.one(f"/进度 {no}", user="bob")
    assert f"诉求 {no}（已办结）" in progress
    assert "办理结果：已更换灯泡" in progress
    assert "转单：需要城管配合" in progress
    assert "请为办理打分" in progress
    assert "感谢评价" in await c.one(f"/评价 {no} 5 很及时", user="bob")
    history = await c.one(f"/工单 {no}", user="secretary")
    assert "（已评价）" in history and "评价：5 分　很及时" in history
    assert "（kezhang）" in history  # officers see who did what
    assert await RequestEvent.filter(request__number=no).count() == 6
    mine = await c.one("/我的诉求", user="bob")
    assert f"{no} 维修·已评价" in mine


async def test_refusals_in_chat(town):
    c = town
    no = number_in(await c.one("/诉求 小区垃圾没人清理", user="bob", group="g1"))
    assert "环境卫生" in (await c.one(f"/进度 {no}", user="bob"))
    text = await c.one(f"/回单 {no} 好了", user="secretary", group="g1")
    assert text == f"诉求 {no} 目前已受理、还没人接单，不能回单。请先 /接单 {no}。"
    text = await c.one(f"/评价 {no} 5", user="bob")
    assert text.startswith(f"诉求 {no} 目前已受理、还没人接单，不能评价。办结后才能评价。")
    await c.one(f"/接单 {no}", user="secretary", group="g1")
    again = await c.one(f"/接单 {no}", user="secretary", group="g1")
    assert again == f"诉求 {no} 已经由您在办理了。"
    text = await c.one(f"/转单 {no} SQ002 x", user="secretary", group="g1")
    assert "只能转给科室" in text
    await c.one(f"/回单 {no} 已清理", user="secretary", group="g1")
    assert "不是您提的" in await c.one(f"/评价 {no} 5", user="eve")
    for bad in ("0", "6", "好"):
        assert "1 到 5 的整数" in await c.one(f"/评价 {no} {bad}", user="bob")
    low = await c.one(f"/评价 {no} 1 太慢了", user="bob")
    assert "会有人跟进回访" in low
    alert = await Delivery.filter(target="console:secretary").order_by("-id").first()
    assert alert.text.startswith(f"差评提醒：诉求 {no} 得分 1 分，意见：太慢了。")
    assert "只能评价一次" in await c.one(f"/评价 {no} 5", user="bob")
    assert "没有找到诉求" in await c.one("/进度 Q0000000000", user="bob")


async def test_reject_then_rate(town):
    c = town
    no = number_in(await c.one("/诉求 想咨询一下", user="bob", group="g1"))
    assert "已退回" in await c.one(f"/退回 {no} 请拨打12345", user="secretary", group="g1")
    told = await Delivery.filter(target="console:g1").order_by("-id").first()
    assert told.text == f"您的诉求 {no} 被退回，原因请私聊我发送 /进度 {no} 查看。"
    assert "原因：请拨打12345" in await c.one(f"/进度 {no}", user="bob")
    assert "目前已退回，不能评价" in await c.one(f"/评价 {no} 5", user="bob")


async def test_permissions(town):
    c = town
    no = number_in(await c.one("/诉求 路灯坏了", user="bob", group="g1"))
    text = await c.one(f"/接单 {no}", user="bob", group="g1")
    assert text.startswith("/接单 只有党务工作者")
    # an officer of SQ002 cannot handle SQ001's request, even from a private chat
    text = await c.one(f"/接单 {no}", user="sq2")
    assert text.startswith(f"诉求 {no} 属于“和平社区党委”，您不是它")
    assert "您不是它" in await c.one(f"/工单 {no}", user="sq2")
    assert "您不是它" in await c.one(f"/进度 {no}", user="sq2")
    # BM01 may not touch it before it is forwarded there
    assert "您不是它" in await c.one(f"/接单 {no}", user="kezhang")
    assert (await ServiceRequest.get(number=no)).status == "received"


async def test_urge_once_a_day(town):
    c = town
    no = number_in(await c.one("/诉求 电梯坏了", user="bob", group="g1"))
    assert "已催办" in await c.one(f"/催办 {no}", user="bob")
    urge = await Delivery.filter(target="console:secretary").order_by("-id").first()
    assert urge.text.startswith(f"催办：诉求 {no}")
    assert "今天已经催办过了" in await c.one(f"/催办 {no}", user="bob")
    assert "不是您提的" in await c.one(f"/催办 {no}", user="eve")


async def test_a_resident_names_the_community_instead_of_its_code(town):
    """Residents do not know SQ001: the name as they say it, its pinyin or a homophone."""
    c = town
    assert "社区（或网格）的名称" in await c.one("/诉求 楼道灯坏了", user="dave")
    assert await c.one("社区", user="dave") == (
        "“社区”可能是下面哪一个？请回复它的组织代码：\n"
        "SQ001 和平社区党委\nWG01 和平社区第一网格\nSQ002 光明社区党委\n发送 /取消 退出。"
    )
    filed = await c.one("河平社区", user="dave")  # the keyboard's first 和 was 河
    assert filed.startswith("诉求已提交")
    req = await ServiceRequest.filter(content="楼道灯坏了").prefetch_related("org").get()
    assert req.org.code == "SQ001"


async def test_unbound_group_and_private_dialog(town):
    c = town
    assert "本群还没有绑定组织" in await c.one("/诉求 漏水", user="bob", group="g9")
    assert "组织代码" in await c.one("/诉求", user="carol")
    assert "没有找到组织“NOPE”" in await c.one("NOPE", user="carol")
    assert "请选择诉求类别" in await c.one("SQ001", user="carol")
    assert "没看懂" in await c.one("9", user="carol")
    assert "请简要说明" in await c.one("5", user="carol")
    assert "地点和联系电话" in await c.one("家里老人需要助餐服务", user="carol")
    filed = await c.one("5号楼 301 13800001111", user="carol")
    no = number_in(filed)
    assert "类别：养老" in filed
    req = await ServiceRequest.get(number=no)
    assert (req.place, req.contact, req.reply_target) == (
        "5号楼 301",
        "13800001111",
        "console:carol",
    )
    # one-shot in private chat: asks the org code, then files
    assert "组织代码" in await c.one("/诉求 楼下垃圾堆积", user="dave")
    filed = await c.one("SQ002", user="dave")
    assert "办理单位：光明社区党委" in filed and "环境卫生" in filed


async def test_queue_lists_open_overdue_and_mine(town):
    c = town
    numbers = [number_in(await c.one(f"/诉求 维修{i}", user="bob", group="g1")) for i in range(12)]
    await c.one(f"/接单 {numbers[0]}", user="secretary", group="g1")
    await ServiceRequest.filter(number=numbers[1]).update(due_at=datetime(2020, 1, 1, tzinfo=UTC))
    # in a group the queue goes to the officer in private
    assert await c.one("/工单", user="secretary", group="g1") == (
        "/工单 的结果已私信发送给您，请查看与我的私聊。"
    )
    text = await private_answer("secretary")
    assert text.startswith("待办工单 12 件，其中超时 1 件，我办理的 1 件（第 1/2 页）")
    assert "【超时】" in text and "【我的】" in text and "/工单 2" in text
    page2 = await c.one("/工单 2", user="secretary")
    assert "（第 2/2 页）" in page2 and page2.count("\nQ") == 2
    # past the last page: no rows, the same counts (the queue counts without a page row)
    page9 = await c.one("/工单 9", user="secretary")
    assert page9.startswith("待办工单 12 件，其中超时 1 件，我办理的 1 件") and "\nQ" not in page9
    assert "目前没有待办工单" in await c.one("/工单", user="sq2")


async def test_stats_command(town):
    c = town
    a = number_in(await c.one("/诉求 水管漏水", user="bob", group="g1"))
    number_in(await c.one("/诉求 垃圾", user="bob", group="g1"))
    await c.one(f"/接单 {a}", user="secretary", group="g1")
    await c.one(f"/回单 {a} 修好了", user="secretary", group="g1")
    await c.one(f"/评价 {a} 4", user="bob")
    text = await c.one("/公开", user="bob", group="g1")
    assert "和平社区党委 · " in text
    assert "受理 2 件，办结 1 件，退回 0 件" in text
    assert "按期办结率：100.0%（按法定工作日计）" in text
    assert "满意度：4.0 分（1 人评价）" in text
    assert "维修 受理1/办结1；环境卫生 受理1/办结0" in text
    # bob spoke in g1: his private /公开 is his community's; dan's needs a code.
    assert await c.one("/公开", user="bob") == text
    assert "请写上组织代码" in await c.one("/公开", user="dan")
    assert "受理 0 件" in await c.one("/公开 SQ002", user="bob")


async def test_deadline_reminders_sent_once(town, client):
    from datetime import timedelta

    c = town
    no = number_in(await c.one("/诉求 水管漏水", user="bob", group="g1"))
    req = await ServiceRequest.get(number=no)
    from bot.app import RUNTIME

    runtime = client.server.app[RUNTIME]
    job = next(j for j in runtime.registry.jobs if j.name == "requests.deadline_reminders")

    async def send_deadline_reminders(runtime, now):
        return await fire_job(runtime, job, now)

    # far from the deadline: nothing
    await send_deadline_reminders(runtime, now=req.created_at)
    assert await Delivery.filter(purpose="request_due").count() == 0
    soon = req.due_at - timedelta(hours=2)
    await send_deadline_reminders(runtime, now=soon)
    await send_deadline_reminders(runtime, now=soon + timedelta(minutes=5))
    rows = await Delivery.filter(purpose="request_due")
    assert len(rows) == 1 and rows[0].text.startswith(f"时限提醒：诉求 {no}")
    late = req.due_at + timedelta(hours=1)
    await send_deadline_reminders(runtime, now=late)
    await send_deadline_reminders(runtime, now=late)
    rows = await Delivery.filter(purpose="request_due").order_by("id")
    assert len(rows) == 2 and rows[1].text.startswith(f"超时提醒：诉求 {no}")
    # closed requests are not reminded
    await c.one(f"/接单 {no}", user="secretary", group="g1")
    await c.one(f"/回单 {no} 修好了", user="secretary", group="g1")
    assert await send_deadline_reminders(runtime, now=late + timedelta(days=1)) == []


async def test_deadline_reminders_are_scheduled(client):
    """The job is a Broadcast row the leader fires, its period from [requests]."""
    from models.broadcasts import Broadcast

    row = await Broadcast.get(job="requests.deadline_reminders")
    assert (row.rule, row.audience, row.status) == ("every:900", "job", "active")
