"""WeCom smart robot channel over real loopback HTTP, driven by a fake platform that
encrypts its callbacks with the JSON variant of the WeCom crypto (receive id "")."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.app import CHANNELS, RUNTIME, create_app
from models.deliveries import Delivery
from tests.conftest import make_config
from tests.fakes.wecom_bot_api import FakeWecomBot
from tests.talk_texts import GREETING, GREETING_GROUP
from tests.tencent_crypto import encrypt

TOKEN = "robotToken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
BOT_ID = "aib1234567890"
CHAT = "wrkSFfCgAAxxxxxx"


async def make_robot(aiohttp_client, db_url):
    settings = {"enabled": True, "token": TOKEN, "encoding_aes_key": AES_KEY, "bot_id": BOT_ID}
    client = await aiohttp_client(create_app(make_config(db_url, wecom_bot=settings)))
    return FakeWecomBot(TOKEN, AES_KEY, aibotid=BOT_ID), client


@pytest.fixture
async def robot(aiohttp_client, db_url):
    return await make_robot(aiohttp_client, db_url)


def channel(client):
    return next(c for c in client.app[CHANNELS] if c.name == "wecom-bot")


async def test_url_verification_answers_the_decrypted_echostr(robot):
    fake, client = robot
    assert await fake.verify(client, "1616140317555161061") == (200, "1616140317555161061")


async def test_url_verification_refusals(robot):
    fake, client = robot
    encrypted = encrypt(AES_KEY, "", b"echo")
    query = {**fake.signed_query(encrypted), "echostr": encrypted}
    resp = await client.get("/wecom-bot", params={**query, "msg_signature": "0" * 40})
    assert resp.status == 403
    resp = await client.get("/wecom-bot", params={k: v for k, v in query.items() if k != "nonce"})
    assert resp.status == 400
    # Encrypted for a receive id (a CorpID): not the smart robot's empty one.
    other = encrypt(AES_KEY, "wwcorp", b"echo")
    resp = await client.get("/wecom-bot", params={**fake.signed_query(other), "echostr": other})
    assert resp.status == 400


async def test_private_text_answered_with_a_finished_stream(robot):
    fake, client = robot
    answer = await fake.send(client, fake.text_message("你好", user="zhangsan"))
    assert answer["msgtype"] == "stream"
    assert answer["stream"]["finish"] is True
    assert answer["stream"]["content"] == GREETING
    assert answer["stream"]["id"]


async def test_voice_and_mixed_messages_read_their_text(robot):
    fake, client = robot
    answer = await fake.send(client, fake.voice_message("/我", user="zhangsan"))
    assert answer["stream"]["content"].startswith(
        "您好，zhangsan！\n平台身份：wecom-bot:zhangsan\n"
    )
    mixed = await fake.send(client, fake.mixed_message("你好", user="zhangsan"))
    assert mixed["stream"]["content"] == GREETING
    image = await fake.send(client, fake.image_message(user="zhangsan"))
    assert "只能看懂文字" in image["stream"]["content"]


async def test_group_message_is_a_mention_and_the_at_is_stripped(robot):
    fake, client = robot
    content = await fake.say(client, "你好", user="zhangsan", chat=CHAT)
    assert content == GREETING_GROUP
    help_text = await fake.say(client, "/帮助", user="zhangsan", chat=CHAT)
    assert help_text.startswith("连心 · 可用命令\n")


async def test_slow_answer_streams_until_finish(robot):
    fake, client = robot
    ch = channel(client)
    ch.reply_budget = 0.0  # the first answer opens the stream empty
    first = await fake.send(client, fake.text_message("你好", user="zhangsan"))
    assert first["stream"]["finish"] is False and "content" not in first["stream"]
    assert await fake.follow(client, first, user="zhangsan") == GREETING
    refreshes = [a for a in fake.answers[1:] if a]
    assert all(a["stream"]["id"] == first["stream"]["id"] for a in refreshes)


async def test_unknown_stream_is_finished(robot):
    fake, client = robot
    answer = await fake.send(client, fake.stream_refresh("no-such-stream", user="zhangsan"))
    assert answer == {"msgtype": "stream", "stream": {"id": "no-such-stream", "finish": True}}


async def test_retried_message_gets_its_first_stream_and_acts_once(robot):
    fake, client = robot
    message = fake.text_message("/我", user="zhangsan")
    first = await fake.send(client, message)
    again = await fake.send(client, message)
    assert again["stream"] == first["stream"]


async def test_enter_chat_gets_the_welcome_as_plain_text(robot):
    fake, client = robot
    answer = await fake.send(client, fake.enter_chat(user="zhangsan"))
    assert answer["msgtype"] == "text"
    assert answer["text"]["content"] == (
        "欢迎关注连心！这里可以办理党员报到、提交诉求、报名组织生活和志愿活动。\n"
        "发送 /帮助 查看全部功能。"
    )


async def test_other_events_answered_with_an_empty_body(robot):
    fake, client = robot
    event = fake.enter_chat(user="zhangsan")
    event["event"] = {"eventtype": "feedback_event"}
    assert await fake.send(client, event) is None


async def test_another_robots_callback_403(robot):
    fake, client = robot
    fake.aibotid = "someone-else"
    encrypted = encrypt(AES_KEY, "", json.dumps(fake.text_message("你好", user="z")).encode())
    resp = await fake.post(
        client, json.dumps({"encrypt": encrypted}).encode(), fake.signed_query(encrypted)
    )
    assert resp.status == 403


async def test_bad_signature_and_stale_timestamp_403(robot):
    fake, client = robot
    encrypted = encrypt(AES_KEY, "", json.dumps(fake.text_message("你好", user="z")).encode())
    body = json.dumps({"encrypt": encrypted}).encode()
    query = fake.signed_query(encrypted)
    assert (await fake.post(client, body, {**query, "msg_signature": "f" * 40})).status == 403
    assert (
        await fake.post(client, body, {k: v for k, v in query.items() if k != "msg_signature"})
    ).status == 403
    stale = fake.signed_query(encrypted, at=1_600_000_000)
    assert (await fake.post(client, body, stale)).status == 403


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"encrypt": 5}', b'{"Encrypt": "x"}', b'{"encrypt": "!!!"}'],
)
async def test_malformed_bodies_400(robot, body):
    fake, client = robot
    text = json.loads(body)["encrypt"] if body.startswith(b'{"encrypt": "') else "x"
    resp = await fake.post(client, body, fake.signed_query(text))
    assert resp.status == 400


async def test_decrypted_garbage_400(robot):
    fake, client = robot
    for plain in (b"<xml>not json</xml>", b'{"no": "msgtype"}'):
        encrypted = encrypt(AES_KEY, "", plain)
        query = fake.signed_query(encrypted)
        resp = await fake.post(client, json.dumps({"encrypt": encrypted}).encode(), query)
        assert resp.status == 400
    message = fake.text_message("你好", user="z")
    del message["from"]
    encrypted = encrypt(AES_KEY, "", json.dumps(message).encode())
    query = fake.signed_query(encrypted)
    resp = await fake.post(client, json.dumps({"encrypt": encrypted}).encode(), query)
    assert resp.status == 400


async def test_pushes_to_the_robot_are_refused_with_the_reason(robot):
    _, client = robot
    outbound = client.app[RUNTIME].outbound
    row = await outbound.send(f"wecom-bot-chat:{CHAT}", "通知")
    assert row.status == "refused"
    stored = await Delivery.get(id=row.id)
    assert "does not let a bot" in stored.reason


async def test_shutdown_waits_for_running_streams(robot):
    fake, client = robot
    ch = channel(client)
    ch.reply_budget = 0.0
    first = await fake.send(client, fake.text_message("你好", user="zhangsan"))
    await ch.streams.close(5.0)
    stream = ch.streams.get(first["stream"]["id"])
    assert stream is not None and stream.finished and stream.content() == GREETING
    await asyncio.sleep(0)
