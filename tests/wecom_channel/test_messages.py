"""WeCom callback messages (POST /wecom): vectors, replies, events, late and long replies."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.app import RUNTIME
from bot.inbound import Inbound, Reply
from models.deliveries import Delivery
from models.events import DialogState, InboundEvent
from models.people import Person
from tests.fakes.wecom_api import FakeWecomAPI
from tests.talk_texts import GREETING, PLAIN_HINT
from tests.wecom_channel.tools import (
    DOC,
    DOC_CREDS,
    RENAME_ASK,
    RENAME_DONE,
    SAMPLES,
    TENCENT,
    TENCENT_CREDS,
    WELCOME,
    message_xml,
    wait_for,
    xml_fields,
)


async def test_published_post_vector(channel, wecom, seen):
    p = DOC["post"]
    channel.clock = lambda: int(p["timestamp"]) + 1
    resp = await wecom.post_encrypted(
        p["encrypt"], timestamp=p["timestamp"], nonce=p["nonce"], signature=p["msg_signature"]
    )
    reply = await wecom.answer(resp, nonce=p["nonce"])

    [inb] = seen
    assert (inb.platform, inb.user_id, inb.chat_id, inb.is_group) == (
        "wecom",
        "mycreate",
        "mycreate",
        False,
    )
    assert (inb.kind, inb.text, inb.event_id) == ("text", "hello", "4561255354251345929")
    assert inb.extra["agent_id"] == "218"
    assert inb.timestamp == 1409659813.0
    assert reply == {
        "ToUserName": "mycreate",
        "FromUserName": "wx5823bf96d3bd56c7",
        "CreateTime": str(int(p["timestamp"]) + 1),
        "MsgType": "text",
        "Content": GREETING,  # its text is "hello"
    }


@pytest.mark.parametrize("creds", [TENCENT_CREDS], indirect=True)
async def test_sbzhu_post_vector(client, channel, wecom, seen):
    p = TENCENT["post"]
    channel.clock = lambda: int(p["timestamp"])
    params = {"msg_signature": p["msg_signature"], "timestamp": p["timestamp"], "nonce": p["nonce"]}
    resp = await client.post("/wecom", params=params, data=p["body"].encode())
    reply = await wecom.answer(resp, nonce=p["nonce"])
    [inb] = seen
    assert (inb.user_id, inb.text, inb.event_id) == ("ChenJiaShun", "你好", "1456453720")
    assert reply["ToUserName"] == "ChenJiaShun" and reply["FromUserName"] == "ww1436e0e65a779aee"


async def test_help_round_trip(wecom, seen):
    msg_id = wecom.msg_id()
    xml = message_xml("lisi", wecom.corp, content="/帮助", msg_id=msg_id)
    nonce = "987654321"
    resp = await wecom.post_message(xml, nonce=nonce)
    assert resp.content_type == "application/xml"
    reply = await wecom.answer(resp, nonce=nonce)

    assert reply["Content"].startswith("连心 · 可用命令")
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (
        "lisi",
        wecom.corp,
        "text",
    )
    assert abs(int(reply["CreateTime"]) - time.time()) < 60
    assert seen[0].event_id == msg_id


async def test_duplicate_msg_id_acts_once(wecom, seen):
    first = await wecom.say("/改称呼", msg_id="5000000000000000001")
    again = await wecom.say("/改称呼", msg_id="5000000000000000001")
    assert first["Content"] == again["Content"] == RENAME_ASK
    assert await DialogState.filter(user_key="wecom:zhangsan").count() == 1
    assert await InboundEvent.filter(platform="wecom", event_key="5000000000000000001").count() == 1

    done = await wecom.say("小明", msg_id="5000000000000000002")
    # A retry of the answer: not run again (it would be plain words now).
    retry = await wecom.say("小明", msg_id="5000000000000000002")
    assert done["Content"] == retry["Content"] == RENAME_DONE
    assert await DialogState.filter(user_key="wecom:zhangsan").count() == 0
    assert await InboundEvent.filter(platform="wecom", event_key="5000000000000000002").count() == 1
    person = await Person.filter(display_name="小明").first()
    assert person is not None


async def test_events(wecom, seen):
    subscribed = await wecom.event("subscribe", user="wangwu")
    assert subscribed["Content"].startswith(WELCOME)
    assert subscribed["ToUserName"] == "wangwu"
    assert seen[-1].kind == "subscribe"
    assert seen[-1].event_id == f"wangwu:{seen[-1].timestamp:.0f}:subscribe"

    # A menu button whose key names a command runs it.
    helped = await wecom.event("click", user="wangwu", key="帮助")
    assert helped["Content"].startswith("连心 · 可用命令")
    assert (seen[-1].kind, seen[-1].extra["key"]) == ("click", "帮助")
    other = await wecom.event("click", user="zhaoliu", key="EVENTKEY")
    assert other["Content"] == PLAIN_HINT

    assert await wecom.event("unsubscribe", user="zhaoliu") is None
    assert seen[-1].kind == "unsubscribe"


async def test_enter_agent_is_answered_empty_without_dispatch(wecom, seen):
    sample = (SAMPLES / "wecom_enter_agent.xml").read_text("utf-8")
    xml = sample.replace("toUser", wecom.corp).replace("1408091189", str(int(time.time())))
    assert await wecom.answer(await wecom.post_message(xml)) is None
    # Unhandled events likewise.
    assert await wecom.event("batch_job_result", user="sys") is None
    assert seen == []
    assert await InboundEvent.all().count() == 0
    # A location report has a (silent) handler: dispatched, answered with nothing.
    assert await wecom.event("LOCATION", user="u1") is None
    assert [i.kind for i in seen] == ["location_report"]


async def test_samples_parse(channel):
    for name, kind in [
        ("text", "text"),
        ("subscribe", "subscribe"),
        ("click", "click"),
        ("enter_agent", "enter_agent"),
    ]:
        text = (SAMPLES / f"wecom_{name}.xml").read_text("utf-8")
        fields = xml_fields(text)
        inb = channel._to_inbound(text, {k: v.strip() for k, v in fields.items()})
        assert inb.kind == kind, name
        assert inb.user_id == fields["FromUserName"]
        assert inb.extra["agent_id"] == "1"
    text = (SAMPLES / "wecom_text.xml").read_text("utf-8")
    inb = channel._to_inbound(text, xml_fields(text))
    assert (inb.text, inb.event_id) == ("this is a test", "1234567890123456")
    click = (SAMPLES / "wecom_click.xml").read_text("utf-8")
    assert (
        channel._to_inbound(click, xml_fields(click)).event_id
        == "FromUser:123456789:click:EVENTKEY"
    )
    assert channel._to_inbound(click, xml_fields(click)).extra["key"] == "EVENTKEY"


async def test_image_gets_text_only_hint(wecom):
    xml = message_xml(
        "zhangsan",
        wecom.corp,
        msg_type="image",
        msg_id=wecom.msg_id(),
        extra="<PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>",
    )
    reply = await wecom.answer(await wecom.post_message(xml))
    assert reply["Content"].startswith("收到您的图片")


async def test_slow_handler_answers_empty_then_sends_through_app_api(
    client, channel, wecom, fake, monkeypatch
):
    dispatcher = client.app[RUNTIME].dispatcher
    original = dispatcher.handle
    calls: list[str] = []

    async def slow(inb: Inbound) -> list[Reply]:
        calls.append(inb.event_id)
        await asyncio.sleep(1.5)
        return await original(inb)

    monkeypatch.setattr(dispatcher, "handle", slow)
    channel.reply_budget = 0.2
    msg_id = wecom.msg_id()

    started = time.monotonic()
    assert await wecom.say("/帮助", user="lisi", msg_id=msg_id) is None
    # Answered at the budget, not when the handler ends (a second of margin: loaded CI).
    assert time.monotonic() - started < 1.2
    # WeCom retries the same message while the handler still runs: nothing twice.
    assert await wecom.say("/帮助", user="lisi", msg_id=msg_id) is None

    await wait_for(lambda: len(fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)) == 1)
    [body] = fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)
    assert body["touser"] == "lisi"
    assert body["agentid"] == 218
    assert body["msgtype"] == "text"
    assert body["text"]["content"].startswith("连心 · 可用命令")
    assert calls == [msg_id]

    async def row_finished() -> Delivery | None:
        return await Delivery.filter(purpose="late_reply", status="sent").first()

    deadline = time.monotonic() + 5
    while (row := await row_finished()) is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert row.target == "wecom:lisi" and row.platform == "wecom"
    # A later retry (after the late reply went out) is still answered empty.
    assert await wecom.say("/帮助", user="lisi", msg_id=msg_id) is None
    await asyncio.sleep(0.1)
    assert len(fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)) == 1


async def test_long_reply_passive_part_then_app_messages(client, wecom, fake, monkeypatch):
    lines = [f"第{i:03d}行：" + "党群服务" * 10 for i in range(60)]
    long_text = "\n".join(lines)
    assert len(long_text.encode()) > 2 * 2048

    async def chatty(inb: Inbound) -> list[Reply]:
        return [Reply(long_text)]

    monkeypatch.setattr(client.app[RUNTIME].dispatcher, "handle", chatty)
    reply = await wecom.say("/帮助", user="lisi")
    passive = reply["Content"]
    assert len(passive.encode()) <= 2048
    assert long_text.startswith(passive)

    await wait_for(lambda: len(fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)) >= 2)
    await asyncio.sleep(0.1)
    rest = [b["text"]["content"] for b in fake.delivered_to(FakeWecomAPI.MESSAGE_SEND)]
    assert all(len(r.encode()) <= 2048 for r in rest)
    assert "\n".join([passive, *rest]) == long_text
    assert await Delivery.filter(purpose="followup", status="sent").count() == len(rest)


async def test_sender_is_built_for_the_runtime(client):
    sender = client.app[RUNTIME].senders["wecom"]
    assert sender.platform == "wecom"
    assert sender.token_key == f"wecom:{DOC_CREDS['corp']}:218"
