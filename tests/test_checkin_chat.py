"""党员服务（登记、报到、接转、台账、隐私），从聊天窗口里用（/console 渠道，真实 HTTP）。"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from models.broadcasts import Broadcast
from models.checkin import CheckIn, MemberRegistration, TransferEvent, TransferRequest
from models.deliveries import Delivery
from models.events import DialogState
from models.people import Person, RoleGrant
from tests.conftest import grant_officer, private_answer

CST = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary); zb1 officer of ZB001; sq2 officer of SQ002 bound to g2."""
    await grant_officer("zb1", "ZB001")
    await grant_officer("sq2", "SQ002")
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    assert "已把本群绑定" in await console.one("/绑定 SQ002", user="sq2", group="g2")
    return console


async def register(
    c, user="bob", name="张三", phone="13800001234", home="ZB001", kind="1", handed="是"
) -> str:
    assert "第 1 步" in await c.one("/登记", user=user)
    assert "第 2 步" in await c.one(name, user=user)
    assert "第 3 步" in await c.one(phone, user=user)
    reply = await c.one(home, user=user)
    if "不在本系统" in reply:
        reply = await c.one("SQ001", user=user)
    assert "第 4 步" in reply
    assert "第 5 步" in await c.one(kind, user=user)
    return await c.one(handed, user=user)


def number_in(text: str) -> str:
    m = re.search(r"编号 (\d+)", text)
    assert m, text
    return m.group(1)


async def test_register_and_confirm(town):
    c = town
    done = await register(c, phone="１３８　００００　１２３４")
    no = number_in(done)
    assert done.startswith(f"登记已提交，编号 {no}，等待“和平社区第一党支部”的党务工作者确认")
    assert "手机：13800001234" in done
    # the branch's group would hear of it; SQ001's bound group is above the branch: not told
    # registering again while pending updates the same registration
    again = await register(c, name="张三丰", handed="否")
    assert again.startswith(f"已更新您的登记（编号 {no}）") and "组织关系尚未转入" in again
    assert await MemberRegistration.filter(status="pending").count() == 1
    # a resident cannot confirm; an officer of another community is refused by scope
    assert "只有党务工作者" in await c.one(f"/确认 {no}", user="eve")
    assert "您不是它的党务工作者" in await c.one(f"/确认 {no}", user="sq2")
    listed = await c.one("/待确认", user="zb1")
    assert f"{no}. 张三丰 13800001234 组织关系：和平社区第一党支部 正式党员（未转入）" in listed
    ok = await c.one(f"/确认 {no}", user="zb1")
    assert ok == f"已确认登记 {no}：张三丰（正式党员，组织关系未转入），已通知本人。"
    told = await Delivery.get(target="console:bob", purpose="checkin")
    assert f"您的党员登记（编号 {no}）已由“和平社区第一党支部”确认" in told.text
    assert "已经确认过了" in await c.one(f"/确认 {no}", user="zb1")
    bob = await Person.get(real_name="张三丰").select_related("home_org")
    assert (bob.phone, bob.home_org.code, bob.relation_status) == (
        "13800001234",
        "ZB001",
        "unregistered",
    )
    assert await RoleGrant.filter(person_id=bob.id, role="member").exists()
    me = await c.one("/我", user="bob")
    assert "张三丰" in me


async def test_register_misuse_and_outside_branch(town):
    c = town
    assert "请私聊我使用" in await c.one("/登记", user="bob", group="g1")
    await c.one("/登记", user="bob")
    await c.one("张三", user="bob")
    assert "手机号要 11 位数字" in await c.one("1380000123", user="bob")
    assert "手机号要 11 位数字" in await c.one("23800001234", user="bob")
    await c.one("13800001234", user="bob")
    asked = await c.one("广州市某某公司党支部", user="bob")
    assert "不在本系统里" in asked
    assert "没有找到组织“NOPE”" in await c.one("NOPE", user="bob")
    assert "第 4 步" in await c.one("SQ001", user="bob")
    assert "请回复 1（正式党员）或 2" in await c.one("3", user="bob")
    await c.one("2", user="bob")
    assert "请回复“是”或“否”" in await c.one("也许", user="bob")
    done = await c.one("是", user="bob")
    no = number_in(done)
    assert "等待“和平社区党委”" in done and "广州市某某公司党支部" in done
    # the officers of SQ001 hear of it in private, never the residents' group g1
    new = await Delivery.get(target="console:secretary", purpose="checkin")
    assert not await Delivery.filter(target="console:g1").exists()
    assert "手机 138****1234" in new.text and f"/确认 {no}" in new.text
    assert await Delivery.filter(target="console:bob").count() == 0
    declined = await c.one(f"/驳回 {no} 手机号有误", user="secretary", group="g1")
    assert declined == f"已驳回登记 {no}，已把原因告诉本人。"
    told = await Delivery.get(target="console:bob")
    assert told.text.startswith(f"您的党员登记（编号 {no}）被驳回，原因：手机号有误")
    assert "已经驳回了" in await c.one(f"/确认 {no}", user="secretary")
    assert "没有找到登记" in await c.one("/确认 999", user="secretary")


async def test_dialog_cancel_and_expiry(town):
    c = town
    await c.one("/登记", user="bob")
    await c.one("张三", user="bob")
    assert "已取消" in await c.one("/取消", user="bob")
    assert await MemberRegistration.all().count() == 0
    await c.one("/转接", user="bob")
    await DialogState.all().update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert "已超时" in await c.one("ZB001", user="bob")
    assert await TransferRequest.all().count() == 0


async def test_checkin_and_leave(town):
    c = town
    # 报到 is for members: a resident who never registered is offered /登记, nothing stored
    assert await c.one("/报到", user="bob", group="g1") == (
        "报到是党员的事。如果您是党员，请先私聊我发送 /登记 亮明身份，党务工作者确认后再 /报到。"
    )
    assert "请先私聊我发送 /登记" in await c.one("/报到", user="bob")  # no question asked
    assert await DialogState.all().count() == 0
    no = number_in(await register(c))
    assert "还在等待党务工作者确认" in await c.one("/报到", user="bob", group="g1")
    assert await CheckIn.all().count() == 0
    await c.one(f"/确认 {no}", user="zb1")
    assert "本群还没有绑定组织" in await c.one("/报到", user="bob", group="g9")
    assert "您现在没有报到记录" in await c.one("/离开 广州", user="bob")
    done = await c.one("/报到", user="bob", group="g1")
    assert done.startswith("报到成功：您已到“和平社区党委”报到")
    again = await c.one("/报到", user="bob", group="g1")
    assert again.startswith("您已经在“和平社区党委”报到过了")
    assert await CheckIn.all().count() == 1
    # in-service, in private: asks which organisation; its name in pinyin will do
    assert "要到哪个组织报到" in await c.one("/报到 在职", user="bob")
    assert "没有找到组织“XX”" in await c.one("XX", user="bob")
    done = await c.one("guangming", user="bob")
    assert done.startswith("在职党员报到成功：您已到“光明社区党委”报到")
    assert "报到（在职" in (await Delivery.get(target="console:sq2", purpose="checkin")).text
    row = await CheckIn.get(org__code="SQ002")
    assert (row.kind, row.chat) == ("in_service", "console:bob")
    # the refusal ends the private dialog: the next message is not read as a code
    assert "要到哪个组织报到" in await c.one("/报到 在职", user="bob")
    assert "报到过了" in await c.one("SQ002", user="bob")
    assert await DialogState.all().count() == 0
    assert "报到过了" not in "".join(await c.say("SQ002", user="bob"))
    left = await c.one("/离开 回广州工作", user="bob", group="g1")
    assert left.startswith("已记下：您已离开“和平社区党委”，去向：回广州工作")
    assert "/离开 的格式不对" in await c.one("/离开", user="bob")
    assert (await CheckIn.get(org__code="SQ001")).left_at is not None
    # checking in there again after leaving is fine
    assert "报到成功" in await c.one("/报到", user="bob", group="g1")


async def test_transfer_flow(town):
    c = town
    assert "第 1 步" in await c.one("/转接", user="bob")
    assert "第 2 步" in await c.one("ZB001", user="bob")
    assert "不能和转出组织" in await c.one("ZB001", user="bob")
    assert "第 3 步" in await c.one("SQ002", user="bob")
    filed = await c.one("工作调动", user="bob")
    no = number_in(filed)
    assert f"编号 {no}：和平社区第一党支部 → 光明社区党委" in filed
    await c.one("/转接", user="bob")
    await c.one("ZB001", user="bob")
    await c.one("外地", user="bob")
    assert "已有一份待审批" in await c.one("再申请", user="bob")
    # the receiving side may not approve
    wrong = await c.one(f"/批准转接 {no}", user="sq2")
    assert wrong == f"接转申请 {no} 由转出组织“和平社区第一党支部”的党务工作者审批，您不能审批。"
    assert "/驳回转接 的格式不对" in await c.one(f"/驳回转接 {no}", user="zb1")
    ok = await c.one(f"/批准转接 {no} 请到光明社区报到", user="zb1")
    assert ok.startswith(f"已批准接转 {no}")
    told = await Delivery.filter(target="console:bob").order_by("id")
    assert any("已批准：请到光明社区报到" in d.text for d in told)
    assert "已经批准了" in await c.one(f"/驳回转接 {no} 晚了", user="zb1")
    progress = await c.one(f"/转接进度 {no}", user="bob")
    assert progress.startswith(f"接转申请 {no}（已批准）")
    assert "提出申请" in progress and "转出组织批准：请到光明社区报到" in progress
    assert await TransferEvent.filter(transfer_id=int(no)).count() == 2
    assert "不是您的" in await c.one(f"/转接进度 {no}", user="eve")
    assert "（已批准）" in await c.one("/转接进度", user="bob")
    bob = await Person.filter(transfers__id=int(no)).first().select_related("home_org")
    assert bob.home_org.code == "SQ002"


async def test_officer_views_and_phone_masking(town):
    c = town
    no = number_in(await register(c, user="bob", name="张三", phone="13800001234"))
    await c.one(f"/确认 {no}", user="zb1")
    no2 = number_in(
        await register(c, user="amy", name="李四", phone="13900005678", home="ZB001", handed="否")
    )
    await c.one(f"/确认 {no2}", user="zb1")
    await c.one("/报到", user="bob", group="g2")
    # in the group g2 the list goes to the officer in private, with the full number
    # (bob checked in to SQ002), and the group reads only that it was sent
    sent = await c.one("/流动党员", user="sq2", group="g2")
    assert sent == "/流动党员 的结果已私信发送给您，请查看与我的私聊。"
    flowing = await private_answer("sq2")
    assert "张三 13800001234 流入 光明社区党委" in flowing
    await c.one("/离开 回老家", user="bob", group="g2")
    flowing = await c.one("/流动党员", user="sq2")
    # bob left: SQ002 no longer covers him, the number is masked
    assert "张三 138****1234" in flowing and "去向：回老家" in flowing
    # the branch officer sees the full number
    found = await c.one("/查人 1234", user="zb1")
    assert "张三 13800001234" in found
    assert "李四" in await c.one("/查人 李", user="zb1")
    assert "没有找到" in await c.one("/查人 张", user="sq2")
    stats = await c.one("/党员统计", user="zb1")
    assert "登记党员 2 人，其中口袋党员（组织关系未转入）1 人" in stats
    stats2 = await c.one("/党员统计", user="sq2")
    assert "已流出 1 人" in stats2
    # the lost-contact ladder (tests/test_grids_jobs.py) answers in private only
    sent = "/失联 的结果已私信发送给您，请查看与我的私聊。"
    assert await c.one("/失联", user="secretary", group="g1") == sent
    assert "没有疑似失联或失联的党员" in await private_answer("secretary")
    assert "没有疑似失联或失联的党员" in await c.one("/失联", user="zb1")
    assert "只有党务工作者" in await c.one("/流动党员", user="bob")


async def test_my_info_and_forget_me(town):
    c = town
    no = number_in(await register(c, user="bob", name="张三", phone="13800001234"))
    await c.one(f"/确认 {no}", user="zb1")
    await c.one("/报到", user="bob", group="g1")
    info = await c.one("/我的信息", user="bob")
    assert "姓名：张三　手机：13800001234" in info and "报到：和平社区党委" in info
    assert "请私聊我使用" in await c.one("/我的信息", user="bob", group="g1")
    assert "确认删除" in await c.one("/删除我的信息", user="bob")
    assert "没有删除" in await c.one("算了", user="bob")
    await c.one("/删除我的信息", user="bob")
    assert "已删除您的个人信息" in await c.one("确认删除", user="bob")
    bob = await Person.get(identities__user_id="bob")
    assert (bob.real_name, bob.phone, bob.home_org_id) == (None, None, None)
    reg = await MemberRegistration.get(id=int(no))
    assert (reg.real_name, reg.phone, reg.status) == ("", "", "confirmed")
    assert await CheckIn.filter(person_id=bob.id).count() == 1
    after = await c.one("/我的信息", user="bob")
    assert "姓名：—　手机：—" in after and "13800001234" not in after


async def test_contact_reminder_once_a_month(town, client):
    """The reminder is the job `checkin.contact_reminders`, fired by the broadcaster as in
    production, on the runtime's clock: once a month per member, whatever the firings."""
    from bot.app import RUNTIME

    runtime = client.server.app[RUNTIME]
    # 10:00 Beijing time tomorrow (outside quiet hours); the job's row is due since start
    tomorrow = datetime.now(CST) + timedelta(days=1)
    start = tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)
    runtime.clock = ManualClock(start)
    assert await runtime.broadcaster.elect()
    job = await Broadcast.get(job="checkin.contact_reminders")
    assert job.rule == "every:21600"  # [checkin] reminder_interval_minutes = 360

    async def fire_at(when: datetime) -> list[Delivery]:
        runtime.clock.set(when)
        await runtime.broadcaster.tick()
        assert (await Broadcast.get(id=job.id)).next_fire_at > when  # it ran
        return await Delivery.filter(purpose="checkin_contact")

    c = town
    no = number_in(await register(c, user="bob", name="张三", phone="13800001234"))
    await c.one(f"/确认 {no}", user="zb1")
    assert await fire_at(start) == []  # seen today
    later = start + timedelta(days=100)
    rows = await fire_at(later)
    assert await fire_at(later + timedelta(hours=6)) == rows  # the same month: not again
    assert len(rows) == 1 and rows[0].target == "console:bob"
    assert rows[0].text.startswith("张三同志，您好！")
