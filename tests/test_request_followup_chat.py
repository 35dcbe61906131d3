"""诉求的后续，从聊天窗口里用：待补充、回访、未回访、转单限制、督办、超期督办、工作日时限、附图。"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.app import RUNTIME, create_app
from models.deliveries import Delivery
from models.people import Identity
from models.requests import RequestEvent, ServiceRequest
from models.workdays import due
from tests.conftest import Console, grant_officer, make_config
from tests.jobs import fire_job
from tests.test_requests_chat import number_in
from tests.wechat_channel.tools import ACCOUNT, OPENID, TOKEN, WechatPush, cd


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary), gbm to BM01 (kezhang), gjd to JD01 (street officer jd)."""
    await grant_officer("kezhang", "BM01")
    await grant_officer("jd", "JD01")
    for user, code, group in (("secretary", "SQ001", "g1"), ("kezhang", "BM01", "gbm")):
        assert "已把本群绑定" in await console.one(f"/绑定 {code}", user=user, group=group)
    assert "已把本群绑定" in await console.one("/绑定 JD01", user="jd", group="gjd")
    return console


async def last_text(target: str) -> str:
    row = await Delivery.filter(target=target).order_by("-id").first()
    return row.text if row else ""


async def filed_and_taken(c: Console, content: str = "3号楼楼道灯坏了") -> str:
    no = number_in(await c.one(f"/诉求 {content}", user="bob", group="g1"))
    assert "已接单" in await c.one(f"/接单 {no}", user="secretary", group="g1")
    return no


def runtime_of(client):
    return client.server.app[RUNTIME]


async def test_waiting_for_the_requester_in_the_same_chat(town):
    c = town
    no = await filed_and_taken(c)
    text = await c.one(f"/待补充 {no} 请问是几单元几楼？", user="secretary", group="g1")
    assert text == f"已请诉求人补充：{no} 待补充，办理时限暂停；诉求人回答后会通知您，时限接着走。"
    asked = await last_text("console:g1")
    assert asked.startswith(f"关于您的诉求 {no}，办理人想了解：请问是几单元几楼？")
    assert f"/补充 {no} 内容" in asked
    assert "待补充，已暂停" in await c.one(f"/进度 {no}", user="bob")
    # bob answers with a plain message where he filed the request
    answer = await c.one("2单元5楼", user="bob", group="g1")
    assert answer.startswith(f"已补充，{no} 继续办理，已通知办理人。")
    told = await last_text("console:secretary")
    assert told.startswith(f"诉求 {no} 诉求人已补充：2单元5楼")
    history = await c.one(f"/工单 {no}", user="secretary")
    assert "待补充（王书记）：请问是几单元几楼？" in history
    assert "诉求人补充（bob）：2单元5楼" in history
    # the dialog is over: the next plain group message is nobody's business
    assert await c.say("谢谢", user="bob", group="g1") == []


async def test_supplement_command_and_refusals(town):
    c = town
    no = await filed_and_taken(c)
    refused = await c.one(f"/补充 {no} 没人问", user="bob")
    assert refused == f"诉求 {no} 现在不需要补充（办理人没有提问）。查看进度：/进度 {no}"
    assert "不是您在办理" in await c.one(f"/待补充 {no} 几楼", user="jd")
    assert "/待补充 编号 问题" in await c.one(f"/待补充 {no}", user="secretary")
    await c.one(f"/待补充 {no} 几楼？", user="secretary", group="g1")
    assert "不是您提的" in await c.one(f"/补充 {no} 5楼", user="mallory")
    assert "已补充" in await c.one(f"/补充 {no} 5楼", user="bob")
    req = await ServiceRequest.get(number=no)
    assert req.status == "in_progress" and req.paused_at is None


async def test_return_visit_unsatisfied_reopens_then_satisfied(town):
    c = town
    no = await filed_and_taken(c)
    assert "已回单" in await c.one(f"/回单 {no} 已更换灯泡", user="secretary", group="g1")
    notice = await last_text("console:g1")
    assert "问题解决了吗？回复 1 满意 2 基本满意 3 不满意" in notice
    again = await c.one("还行吧", user="bob", group="g1")
    assert again == f"诉求 {no} 的问题解决了吗？请回复 1 满意 2 基本满意 3 不满意。"
    reopened = await c.one("3", user="bob", group="g1")
    assert reopened.startswith(f"抱歉没有办好。{no} 已重新交给办理人")
    req = await ServiceRequest.get(number=no)
    assert req.status == "in_progress" and req.visit == "unsatisfied"
    assert (await last_text("console:secretary")).startswith(f"诉求 {no} 回访不满意")
    assert (await last_text("console:jd")).startswith(f"诉求 {no} 回访不满意")
    await c.one(f"/回单 {no} 换了整条线路", user="secretary", group="g1")
    assert await c.one(f"/回访 {no} 1", user="bob") == f"感谢回访！{no}：满意。"
    assert await c.say("1", user="bob", group="g1") == []  # the visit dialog is over
    progress = await c.one(f"/进度 {no}", user="bob")
    assert "回访：满意" in progress and "不满意，重新办理" in progress
    assert await c.one(f"/回访 {no} 1", user="bob") == f"诉求 {no} 已经回访过了，谢谢。"
    assert "回访请回复 1 满意" in await c.one(f"/回访 {no} 5", user="bob")


async def test_no_answer_becomes_no_visit_and_public_figures(town, client):
    c = town
    a, b = await filed_and_taken(c), await filed_and_taken(c, "垃圾没人清理")
    for no in (a, b):
        await c.one(f"/回单 {no} 办好了", user="secretary", group="g1")
    await c.one(f"/回访 {a} 2", user="bob")
    rt = runtime_of(client)
    job = next(j for j in rt.registry.jobs if j.name == "requests.visit_expiry")
    req = await ServiceRequest.get(number=b)
    await fire_job(rt, job, req.visit_due_at - timedelta(minutes=1))
    assert (await ServiceRequest.get(number=b)).visit == "asked"
    await fire_job(rt, job, req.visit_due_at + timedelta(minutes=1))
    assert (await ServiceRequest.get(number=b)).visit == "none"
    assert await RequestEvent.filter(request__number=b, action="visit_none").count() == 1
    late = await c.one(f"/回访 {b} 1", user="bob")
    assert late.startswith(f"诉求 {b} 的回访已经结束（超时未回访）")
    stats = await c.one("/公开", user="bob", group="g1")
    assert "回访率：50.0%（1/2）　回访满意率：100.0%（只计回答）" in stats
    assert "按期办结率：100.0%（按法定工作日计）" in stats


async def test_forward_back_needs_a_reason_and_alerts_the_street(town):
    c = town
    no = await filed_and_taken(c)
    await c.one(f"/转单 {no} BM01 需要城管配合", user="secretary", group="g1")
    await c.one(f"/接单 {no}", user="kezhang", group="gbm")
    # the command wants a note anyway; the model's rule is in test_request_followup_model
    refused = await c.one(f"/转单 {no} SQ001", user="kezhang", group="gbm")
    assert refused.startswith("/转单 的格式不对。")
    text = await c.one(f"/转单 {no} SQ001 属于物业维修范围", user="kezhang", group="gbm")
    assert text.startswith(f"已把 {no} 转给“和平社区党委”（SQ001）")
    alert = await last_text("console:jd")
    assert alert.startswith(f"请注意：诉求 {no}（和平社区党委）又被转回“和平社区党委”")
    assert "理由：属于物业维修范围" in alert


async def test_forward_limit_from_config(aiohttp_client, db_url):
    from bot.demo import seed

    client = await aiohttp_client(create_app(make_config(db_url, requests={"max_forwards": 1})))
    c = Console(client)
    await seed()
    await grant_officer("kezhang", "BM01")
    await c.one("/绑定 SQ001", user="secretary", group="g1")
    no = await filed_and_taken(c)
    await c.one(f"/转单 {no} BM01 城管", user="secretary", group="g1")
    await c.one(f"/接单 {no}", user="kezhang")
    text = await c.one(f"/转单 {no} SQ001 退回", user="kezhang")
    assert text == f"诉求 {no} 已经转过 1 次，不能再转了。请接单办理，或请上级组织协调。"


async def test_supervision_by_the_street(town):
    c = town
    no = await filed_and_taken(c)
    text = await c.one(f"/督办 {no} 请本周五前办结", user="jd")
    assert text == f"已督办 {no}，办理人已收到要求。"
    told = await last_text("console:secretary")
    assert told.startswith(f"督办：诉求 {no}，jd 要求：请本周五前办结")
    refused = await c.one(f"/督办 {no} 快点", user="secretary", group="g1")
    assert refused == f"只有诉求 {no} 所属组织的上级组织的党务工作者可以督办。"
    assert "督办（jd）：请本周五前办结" in await c.one(f"/工单 {no}", user="secretary")


async def test_overdue_requests_escalate_once_to_the_street(town, client):
    c = town
    no = number_in(await c.one("/诉求 水管漏水", user="bob", group="g1"))
    rt = runtime_of(client)
    job = next(j for j in rt.registry.jobs if j.name == "requests.deadline_reminders")
    req = await ServiceRequest.get(number=no)
    late = req.due_at + timedelta(hours=1)
    await fire_job(rt, job, late)
    await fire_job(rt, job, late + timedelta(hours=2))
    rows = await Delivery.filter(purpose="request_escalate")
    assert [r.target for r in rows] == ["console:jd"]
    assert rows[0].text.startswith(f"超期督办：诉求 {no}（和平社区党委·维修）已超过办理时限")
    assert await RequestEvent.filter(request__number=no, action="escalate").count() == 1
    assert "超期，已报上级督办" in await c.one(f"/工单 {no}", user="secretary")


async def test_paused_requests_are_not_reminded(town, client):
    c = town
    no = await filed_and_taken(c)
    await c.one(f"/待补充 {no} 几楼？", user="secretary", group="g1")
    rt = runtime_of(client)
    job = next(j for j in rt.registry.jobs if j.name == "requests.deadline_reminders")
    req = await ServiceRequest.get(number=no)
    assert await fire_job(rt, job, req.due_at + timedelta(days=3)) == []


async def test_working_day_limit_from_config(aiohttp_client, db_url):
    from bot.demo import seed

    config = make_config(db_url, requests={"limits": '{"维修": "3工作日"}'})
    client = await aiohttp_client(create_app(config))
    c = Console(client)
    await seed()
    await c.one("/绑定 SQ001", user="secretary", group="g1")
    no = number_in(await c.one("/诉求 楼道灯坏了", user="bob", group="g1"))
    req = await ServiceRequest.get(number=no)
    assert req.workdays and req.due_at == due(req.created_at, "3工作日")
    assert "（按工作日）" in await c.one(f"/进度 {no}", user="bob")
    other = await ServiceRequest.get(
        number=number_in(await c.one("/诉求 垃圾", user="bob", group="g1"))
    )
    assert not other.workdays and other.due_at == other.created_at + timedelta(hours=48)


def image_xml(msg_id: int, url: str, media_id: str, openid: str = OPENID) -> str:
    return (
        f"<xml><ToUserName>{cd(ACCOUNT)}</ToUserName><FromUserName>{cd(openid)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl>{cd(url)}</PicUrl><MediaId>{cd(media_id)}</MediaId><MsgId>{msg_id}</MsgId></xml>"
    )


async def test_images_after_filing_and_after_closing_are_evidence(aiohttp_client, db_url):
    """Over the WeChat channel (plain mode): the platform gives PicUrl and MediaId."""
    from bot.demo import seed

    config = make_config(db_url, wechat={"enabled": True, "token": TOKEN, "mode": "plain"})
    client = await aiohttp_client(create_app(config))
    wx, c = WechatPush(client), Console(client)
    await seed()
    # without a request just filed, an image gets the usual answer
    lonely = await wx.exchange(image_xml(wx.msg_id(), "http://mmbiz/0.jpg", "M0"))
    assert lonely.startswith("收到您的图片，不过我暂时只能看懂文字。")
    assert "组织代码" in await wx.say("/诉求 楼道灯坏了")
    filed = await wx.say("SQ001")
    no = number_in(filed)
    kept = await wx.exchange(image_xml(wx.msg_id(), "http://mmbiz/1.jpg", "M1"))
    assert kept == f"已把图片作为诉求附图存入 {no}。"
    # the officer is a WeChat user too
    officer_openid = "oOfficer000000000000000000001"
    secretary = await Identity.get(platform="console", user_id="secretary")
    await Identity.create(platform="wechat", user_id=officer_openid, person_id=secretary.person_id)
    assert "已接单" in await c.one(f"/接单 {no}", user="secretary")
    assert "已回单" in await c.one(f"/回单 {no} 已更换灯泡", user="secretary")
    shot = image_xml(wx.msg_id(), "http://mmbiz/2.jpg", "M2", openid=officer_openid)
    assert await wx.exchange(shot) == f"已把图片作为回单附图存入 {no}。"
    progress = await c.one(f"/进度 {no}", user="secretary")
    assert "附图（诉求）：http://mmbiz/1.jpg" in progress
    assert "附图（回单）：http://mmbiz/2.jpg" in progress


async def test_the_ledger_shows_pauses_visits_supervision_and_evidence(town):
    from models.requests_export import request_rows
    from models.workdays import TZ

    c = town
    no = await filed_and_taken(c)
    await c.one(f"/待补充 {no} 几楼？", user="secretary", group="g1")
    await c.one(f"/补充 {no} 5楼", user="bob")
    await c.one(f"/督办 {no} 抓紧", user="jd")
    await c.one(f"/回单 {no} 修好了", user="secretary", group="g1")
    req = await ServiceRequest.get(number=no)
    await req.attach("result", "M9", "http://img/9.jpg", await req.handler, now=req.closed_at)
    await c.one(f"/回访 {no} 2", user="bob")
    today = req.created_at.astimezone(TZ).date()
    header, rows = await request_rows("SQ001", today, today)
    row = dict(zip(header, rows[0], strict=True))
    assert (row["回访"], row["督办"], row["待补充（次）"], row["附图"]) == (
        "基本满意",
        1,
        1,
        "http://img/9.jpg",
    )
    assert "待补充 王书记 几楼？" in row["全过程"] and "回访 bob 基本满意" in row["全过程"]


async def test_an_image_in_a_qq_group_after_closing_is_evidence(
    aiohttp_client, aiohttp_server, db_url
):
    """OneBot: the image segment's file id and URL are kept with the request."""
    from bot.demo import seed
    from models.people import Organization
    from tests.fakes.onebot_api import FakeOnebotAPI
    from tests.onebot_channel.tools import SECRET, Cqhttp, text

    fake = await FakeOnebotAPI(access_token="tok").serve(aiohttp_server)
    onebot = {"enabled": True, "secret": SECRET, "api_url": fake.base_url, "access_token": "tok"}
    client = await aiohttp_client(create_app(make_config(db_url, onebot=onebot)))
    runtime = client.app[RUNTIME]
    await seed()
    officer = await runtime.identity.ensure_person("onebot", "87654321", "王书记")
    await runtime.identity.grant(officer, "officer", await Organization.get(code="SQ001"))
    qq = Cqhttp(client)

    async def send(user: int, segments: list) -> dict | None:
        answer = await qq.send(qq.group(segments, user=user, group_id=123456789))
        await runtime.settle()
        return answer

    await send(87654321, [text("/绑定 SQ001")])
    filed = (await send(12345678, [text("/诉求 楼道灯坏了")]))["reply"]
    no = number_in(filed)
    await send(87654321, [text(f"/接单 {no}")])
    with_text = {"type": "image", "data": {"file": "f0.image", "url": "https://q.cn/0.jpg"}}
    await send(87654321, [text(f"/回单 {no} 已更换灯泡"), with_text])
    image = {
        "type": "image",
        "data": {"file": "abc123.image", "url": "https://gchat.qpic.cn/x.jpg"},
    }
    answer = await send(87654321, [image])
    assert answer["reply"] == f"已把图片作为回单附图存入 {no}。"
    # anyone else's picture in the group is none of the bot's business
    assert await send(11111111, [image]) is None
    kept = await (await ServiceRequest.get(number=no)).attachments()
    assert [(a.kind, a.media_id, a.url) for a in kept] == [
        ("result", "f0.image", "https://q.cn/0.jpg"),  # sent with /回单
        ("result", "abc123.image", "https://gchat.qpic.cn/x.jpg"),  # sent just after
    ]


async def test_a_return_visit_never_cuts_into_another_dialog(town):
    c = town
    no = await filed_and_taken(c)
    # bob is in the middle of filing a second request step by step in the same group
    assert "类别" in await c.one("/诉求", user="bob", group="g1")
    await c.one(f"/回单 {no} 已更换灯泡", user="secretary", group="g1")
    # his "1" still answers the category question, not the return visit
    assert await c.one("1", user="bob", group="g1") == "请简要说明您的诉求（什么事、什么情况）。"
    assert (await ServiceRequest.get(number=no)).visit == "asked"
    assert await c.one(f"/回访 {no} 1", user="bob", group="g1") == f"感谢回访！{no}：满意。"


async def test_working_day_reminders_count_the_lead_in_working_time(town, client):
    from datetime import UTC, datetime

    from models.workdays import TZ

    c = town
    no = await filed_and_taken(c)
    monday = datetime(2026, 12, 7, 10, tzinfo=TZ)
    # stored in UTC, as the model does (SQLite compares times as text)
    await ServiceRequest.filter(number=no).update(due_at=monday.astimezone(UTC), workdays=True)
    rt = runtime_of(client)
    job = next(j for j in rt.registry.jobs if j.name == "requests.deadline_reminders")
    # Friday 20:00: twelve working hours reach Monday 08:00, before the deadline
    assert await fire_job(rt, job, datetime(2026, 12, 4, 20, tzinfo=TZ)) == []
    # Friday 23:00: only ten working hours are left
    (sent,) = await fire_job(rt, job, datetime(2026, 12, 4, 23, tzinfo=TZ))
    assert sent.text.startswith(f"时限提醒：诉求 {no}") and sent.target == "console:secretary"
