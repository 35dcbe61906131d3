"""QQ channel: dispatch, passive replies, dedup, dialogs, failures, shutdown, pure helpers."""

from __future__ import annotations

import asyncio
import copy

from bot.channels.qq import message_text, passive_texts
from bot.inbound import Reply
from models.deliveries import Delivery
from models.events import DialogState, InboundEvent
from tests.qq_channel.tools import ACK, APPID, GROUP, MEMBER, SECRET, eventually, sample

# -- dispatch --------------------------------------------------------------------


async def test_group_help_is_acked_at_once_and_answered_by_passive_reply(qq, fake):
    fake.hold_messages()  # the reply cannot arrive before the ack
    payload = qq.group_at(" /帮助")
    resp = await qq.post(payload)
    assert resp.status == 200
    assert await resp.json() == ACK
    assert fake.delivered == []

    fake.release_messages()
    [msg] = await fake.wait_delivered(1)
    assert msg["kind"] == "group" and msg["target"] == GROUP
    assert msg["content"].startswith("连心 · 可用命令")
    assert "发送“/帮助 编号”看用法" in msg["content"]
    assert (msg["msg_id"], msg["msg_seq"], msg["msg_type"]) == (payload["d"]["id"], 1, 0)
    [send] = fake.sends
    assert send.path == f"/v2/groups/{GROUP}/messages"
    assert send.headers["Authorization"] == "QQBot QQTOKEN-1"
    assert [f.json for f in fake.token_fetches] == [{"appId": APPID, "clientSecret": SECRET}]


async def test_c2c_me_shows_the_qq_identity(qq, fake):
    user = "A1B2C3D4E5F60718293A4B5C6D7E8F90"
    payload = qq.c2c("/我", user=user)
    await qq.push(payload)

    [msg] = await fake.wait_delivered(1)
    assert msg["kind"] == "user" and msg["target"] == user
    assert f"平台身份：qq:{user}" in msg["content"]
    assert (msg["msg_id"], msg["msg_seq"]) == (payload["d"]["id"], 1)
    assert fake.sends[0].path == f"/v2/users/{user}/messages"


async def test_sample_payloads_are_handled(qq, fake):
    group = sample("group_at")  # " 123": not a command, the bot was @-ed
    c2c = sample("c2c")
    await qq.push(group)
    await qq.push(c2c)
    await qq.push(sample("group_at_extended"))

    await qq.channel.wait_idle(5)
    by_id = {d["msg_id"]: d for d in fake.delivered}
    assert set(by_id) == {group["d"]["id"], c2c["d"]["id"], sample("group_at_extended")["d"]["id"]}
    assert "/帮助" in by_id[c2c["d"]["id"]]["content"]
    rows = {r.event_key for r in await InboundEvent.filter(platform="qq")}
    assert group["d"]["id"] in rows and c2c["d"]["id"] in rows


async def test_duplicate_push_acts_once(qq, fake):
    payload = qq.group_at(" /改称呼")
    again = copy.deepcopy(payload)
    again["id"] = "GROUP_AT_MESSAGE_CREATE:another-envelope"  # same message, new push
    fake.hold_messages()
    await qq.push(payload)
    await asyncio.gather(qq.push(payload), qq.push(again))
    fake.release_messages()

    assert await qq.channel.wait_idle(5)
    assert await DialogState.filter(user_key=f"qq:{MEMBER}").count() == 1
    assert len(fake.sends) == 1
    [msg] = fake.delivered
    assert "怎么称呼您" in msg["content"] and msg["msg_seq"] == 1


async def test_duplicate_after_restart_runs_once_and_is_not_resent(qq, fake):
    payload = qq.group_at(" /改称呼")
    await qq.push(payload)
    await fake.wait_delivered(1)
    qq.channel._seen.clear()  # another process: no memory of the push

    await qq.push(payload)
    assert await qq.channel.wait_idle(5)

    assert await DialogState.filter(user_key=f"qq:{MEMBER}").count() == 1
    assert len(fake.delivered) == 1
    assert len(fake.sends) == 1  # the Delivery row says msg_seq 1 was sent
    [row] = await Delivery.filter(platform="qq")
    assert (row.target, row.status, row.purpose) == (f"qq-group:{GROUP}", "sent", "reply")
    assert row.dedup_key == f"qq:{payload['d']['id']}:1"


async def test_dialog_continues_across_messages(qq, fake):
    await qq.push(qq.c2c("/改称呼"))
    await fake.wait_delivered(1)
    await qq.push(qq.c2c("小林"))
    await fake.wait_delivered(2)
    await qq.push(qq.c2c("/我"))
    msgs = await fake.wait_delivered(3)
    assert "您好，小林！" in msgs[2]["content"]
    assert [m["msg_seq"] for m in msgs] == [1, 1, 1]
    assert len({m["msg_id"] for m in msgs}) == 3


async def test_other_events_are_only_acknowledged(qq, fake):
    for payload in (
        {"op": 0, "id": "GROUP_ADD_ROBOT:1", "t": "GROUP_ADD_ROBOT", "d": {"group_openid": GROUP}},
        {"op": 0, "id": "X:1", "t": "AT_MESSAGE_CREATE", "d": {"id": "1", "content": "hi"}},
        {"op": 1, "d": 1},
        {"op": 0, "t": ["GROUP_AT_MESSAGE_CREATE"], "d": {}},
    ):
        await qq.push(payload)
    assert await qq.channel.wait_idle(5)
    assert fake.requests == []
    assert await InboundEvent.all().count() == 0


async def test_c2c_image_gets_the_unsupported_answer(qq, fake):
    attachments = sample("group_at_extended")["d"]["attachments"]
    await qq.push(qq.c2c("", attachments=attachments))
    [msg] = await fake.wait_delivered(1)
    assert "收到您的图片" in msg["content"]


async def test_failed_reply_is_logged_and_counted(qq, fake, caplog):
    payload = qq.c2c("/我")
    fake.expired_msg_ids.add(payload["d"]["id"])
    await qq.push(payload)
    assert await qq.channel.wait_idle(5)

    assert fake.delivered == []
    assert "304027" in caplog.text
    metrics = (await (await qq.client.get("/metrics")).text()).splitlines()
    assert 'lianxin_outbound_sends_total{outcome="failed",platform="qq"} 1.0' in metrics
    [row] = await Delivery.filter(platform="qq")
    assert (row.status, row.error_code, row.attempts) == ("failed", 304027, 1)


async def test_shutdown_waits_for_replies_in_flight(qq, fake):
    fake.hold_messages()
    await qq.push(qq.c2c("/我"))
    await eventually(lambda: len(fake.sends) == 1)  # the reply is on the wire, held

    shutdown = asyncio.create_task(qq.channel.shutdown())
    done, _ = await asyncio.wait({shutdown}, timeout=0.1)
    assert not done  # still waiting for the reply
    fake.release_messages()
    await asyncio.wait_for(shutdown, 5)
    assert len(fake.delivered) == 1


# -- helpers ---------------------------------------------------------------------


def test_message_text_strips_the_mention():
    assert message_text(" 123") == "123"
    assert message_text(" /帮助 ") == "/帮助"
    assert message_text("<@!1234> /我") == "/我"
    assert message_text(None) == ""


def test_passive_texts_respect_five_replies_per_message():
    replies = [Reply(f"第{i}条") for i in range(1, 8)] + [Reply("  ")]
    texts = passive_texts(replies)
    assert len(texts) == 5
    assert texts[:4] == ["第1条", "第2条", "第3条", "第4条"]
    assert texts[4] == "第5条\n\n第6条\n\n第7条"
    assert passive_texts([Reply("")]) == []
