"""OneBot 12 webhook channel over real loopback HTTP, driven by a fake v12 implementation
(ComWeChatBotClient's shapes) that posts events and serves the send_message action."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from bot.app import RUNTIME, create_app
from bot.channels.onebot12 import message_content
from models.deliveries import Delivery
from models.events import InboundEvent
from tests.conftest import make_config
from tests.fakes.onebot12_api import FakeOnebot12
from tests.talk_texts import GREETING, GREETING_GROUP

HOOK_TOKEN = "hook-token"
API_TOKEN = "api-token"
BOT = "wxid_bot"
USER = "wxid_alice"
GROUP = "20001234567@chatroom"

IMAGE_UNSUPPORTED = (
    "收到您的图片，不过我暂时只能看懂文字。请用文字描述，或发送 /帮助 查看可用命令。"
)


async def make_bridge(aiohttp_client, aiohttp_server, db_url, **v12):
    fake = await FakeOnebot12(API_TOKEN, webhook_token=HOOK_TOKEN).serve(aiohttp_server)
    settings = {
        "enabled": True,
        "access_token": HOOK_TOKEN,
        "api_url": fake.base_url + "/",
        "api_access_token": API_TOKEN,
        **v12,
    }
    client = await aiohttp_client(create_app(make_config(db_url, onebot12=settings)))
    return fake, client


@pytest.fixture
async def bridge(aiohttp_client, aiohttp_server, db_url):
    return await make_bridge(aiohttp_client, aiohttp_server, db_url)


async def post(fake, client, event, **kw) -> int:
    status, _ = await fake.post_event(client, event, **kw)
    await client.app[RUNTIME].settle()
    return status


async def test_private_plain_words_answered_through_send_message(bridge):
    fake, client = bridge
    assert await post(fake, client, fake.message_event("你好", user=USER)) == 204
    assert fake.delivered == [
        {
            "detail_type": "private",
            "user_id": USER,
            "message": [{"type": "text", "data": {"text": GREETING}}],
            "text": GREETING,
            "mentions": [],
            "via": "action",
        }
    ]
    action = fake.requests[-1]
    assert action.headers["Authorization"] == f"Bearer {API_TOKEN}"
    assert action.json["action"] == "send_message"
    assert action.json["self"] == {"platform": "wechat", "user_id": BOT}
    row = await Delivery.get(target=f"onebot12:wechat:{USER}")
    assert (row.status, row.purpose, row.platform) == ("sent", "reply", "onebot12")


async def test_group_answers_commands_and_mentions_only(bridge):
    fake, client = bridge
    assert await post(fake, client, fake.message_event("大家好", user=USER, group=GROUP)) == 204
    assert fake.delivered == []
    await post(fake, client, fake.message_event("你好", user=USER, group=GROUP, mention_bot=True))
    await post(fake, client, fake.message_event("/我", user=USER, group=GROUP))
    assert [d["group_id"] for d in fake.delivered] == [GROUP, GROUP]
    # In a group the answer @-mentions the asker, as ComWeChat sends a mention segment.
    assert all(d["mentions"] == [USER] for d in fake.delivered)
    assert fake.delivered[0]["message"][0] == {"type": "mention", "data": {"user_id": USER}}
    assert fake.delivered[0]["text"] == " " + GREETING_GROUP


async def test_mention_of_someone_else_is_not_a_mention_of_the_bot(bridge):
    fake, client = bridge
    segments = [
        {"type": "mention", "data": {"user_id": "wxid_bob"}},
        {"type": "text", "data": {"text": "\u2005你好"}},
    ]
    await post(fake, client, fake.message_event(segments, user=USER, group=GROUP))
    assert fake.delivered == []


async def test_wx_extension_segments_are_ignored(bridge):
    fake, client = bridge
    segments = [
        {"type": "wx.emoji", "data": {"file_id": "e30f9684"}},
        {"type": "wx.unknown_thing", "data": {"x": 1}},
        {"type": "text", "data": {"text": "你好"}},
    ]
    assert await post(fake, client, fake.message_event(segments, user=USER)) == 204
    assert [d["text"] for d in fake.delivered] == [GREETING]


async def test_image_only_message_says_text_only(bridge):
    fake, client = bridge
    segments = [{"type": "image", "data": {"file_id": "e30f9684"}}]
    await post(fake, client, fake.message_event(segments, user=USER))
    assert [d["text"] for d in fake.delivered] == [IMAGE_UNSUPPORTED]


def test_message_content_reads_segments():
    segs = [
        {"type": "mention", "data": {"user_id": BOT}},
        {"type": "text", "data": {"text": "\u2005/报名 3"}},
        {"type": "reply", "data": {"message_id": "6283", "user_id": "x"}},
        {"type": "mention_all", "data": {}},
    ]
    assert message_content(segs, "", BOT) == ("/报名 3", True, "text")
    assert message_content("not a list", " alt ", BOT) == ("alt", False, "text")
    voice = [{"type": "voice", "data": {"file_id": "f"}}]
    assert message_content(voice, "", BOT) == ("", False, "voice")


async def test_own_messages_are_ignored(bridge):
    fake, client = bridge
    assert await post(fake, client, fake.message_event("/我", user=BOT, group=GROUP)) == 204
    assert fake.delivered == []


async def test_retried_event_is_answered_once(bridge):
    fake, client = bridge
    event = fake.message_event("/我", user=USER)
    assert await post(fake, client, event) == 204
    assert await post(fake, client, event) == 204
    assert len(fake.delivered) == 1
    key = f"wechat:{BOT}:{event['id']}"
    assert await InboundEvent.filter(platform="onebot12", event_key=key).count() == 1


async def test_same_event_id_from_another_bot_is_not_a_duplicate(
    aiohttp_client, aiohttp_server, db_url
):
    fake = await FakeOnebot12(API_TOKEN, bots=("wxid_bot", "wxid_bot2")).serve(aiohttp_server)
    settings = {"enabled": True, "api_url": fake.base_url, "api_access_token": API_TOKEN}
    client = await aiohttp_client(create_app(make_config(db_url, onebot12=settings)))
    event = fake.message_event("你好", user=USER, event_id="same-id")
    await post(fake, client, event)
    await post(fake, client, {**event, "self": {"platform": "wechat", "user_id": "wxid_bot2"}})
    assert len(fake.delivered) == 2
    # Each reply names the bot account that heard the message (two accounts: 10101 otherwise).
    assert [r.json["self"]["user_id"] for r in fake.requests] == ["wxid_bot", "wxid_bot2"]


async def test_stale_event_refused(bridge):
    fake, client = bridge
    old = fake.message_event("/我", user=USER, at=time.time() - 301)
    assert await post(fake, client, old) == 403
    assert fake.delivered == []
    assert await InboundEvent.all().count() == 0


async def test_token_missing_401_wrong_403_query_accepted(bridge):
    fake, client = bridge
    event = fake.message_event("你好", user=USER)
    assert await post(fake, client, event, token="") == 401
    assert await post(fake, client, fake.message_event("你好", user=USER), token="nope") == 403
    fake.token_in_query = True
    assert await post(fake, client, fake.message_event("你好", user=USER), token="nope") == 403
    assert await post(fake, client, fake.message_event("你好", user=USER)) == 204
    assert len(fake.delivered) == 1


async def test_other_auth_scheme_403(bridge):
    fake, client = bridge
    resp = await client.post(
        "/onebot12",
        data=json.dumps(fake.message_event("你好", user=USER)),
        headers={"X-OneBot-Version": "12", "Authorization": f"Token {HOOK_TOKEN}"},
    )
    assert resp.status == 403


async def test_version_header_required(bridge):
    fake, client = bridge
    assert await post(fake, client, fake.message_event("你好", user=USER), version=None) == 400
    assert await post(fake, client, fake.message_event("你好", user=USER), version="11") == 400
    assert fake.delivered == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "message"}',
        b"\xff\xfe",
        b'{"id": "x", "type": "message", "detail_type": "private", "time": "now"}',
    ],
)
async def test_malformed_bodies_400(bridge, body):
    fake, client = bridge
    assert await post(fake, client, body) == 400


async def test_message_without_self_or_user_400(bridge):
    fake, client = bridge
    event = fake.message_event("你好", user=USER)
    assert await post(fake, client, {**event, "self": None}) == 400
    event = fake.message_event("你好", user=USER)
    assert await post(fake, client, {**event, "user_id": ""}) == 400
    event = fake.message_event("你好", user=USER)
    assert await post(fake, client, {**event, "self": {"platform": "a:b", "user_id": BOT}}) == 400
    assert fake.delivered == []


async def test_meta_events_show_bridges_in_healthz(bridge):
    fake, client = bridge
    assert await post(fake, client, fake.heartbeat(5000)) == 204
    health = await (await client.get("/healthz")).json()
    [impl] = health["onebot12_bridges"]
    assert (impl["impl"], impl["online"], impl["bots"]) == ("ComWeChat", True, [])
    await post(fake, client, fake.message_event("你好", user=USER))
    health = await (await client.get("/healthz")).json()
    assert health["onebot12_bridges"][0]["bots"] == [
        {"platform": "wechat", "user_id": BOT, "online": True}
    ]
    await post(fake, client, fake.status_update(online=False))
    health = await (await client.get("/healthz")).json()
    assert health["onebot12_bridges"][0]["bots"][0]["online"] is False


async def test_opt_in_actions_in_the_response(aiohttp_client, aiohttp_server, db_url):
    fake, client = await make_bridge(aiohttp_client, aiohttp_server, db_url, reply_in_response=True)
    fake.discard_response_body = False  # an implementation that follows the standard here
    status, body = await fake.post_event(client, fake.message_event("你好", user=USER))
    assert status == 200
    [action] = json.loads(body)
    assert action["action"] == "send_message"
    assert action["params"]["detail_type"] == "private"
    assert [(d["text"], d["via"]) for d in fake.delivered] == [(GREETING, "response")]
    assert fake.requests == []  # nothing went through the action endpoint


async def test_lianxin_channels_lists_bridges_on_record(bridge, db_url, tmp_path):
    fake, client = bridge
    await post(fake, client, fake.connect("1.2.0"))
    await post(fake, client, fake.heartbeat(5000))
    await post(fake, client, fake.message_event("你好", user=USER))
    env = {
        **os.environ,
        "LIANXIN_DATABASE__URL": db_url,
        "LIANXIN_ONEBOT12__ENABLED": "true",
        "LIANXIN_ONEBOT12__API_URL": fake.base_url,
    }
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", "channels"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("onebot12   yes      非官方") for line in lines), out.stdout
    assert any(line.startswith("wecom-bot  no       官方") for line in lines), out.stdout
    at = lines.index("OneBot 12 实现（桥接）：")
    assert lines[at + 1].startswith("  ComWeChat 1.2.0  在线  最近 ")
    assert lines[at + 2] == f"    wechat:{BOT}  在线"
