"""OneBot v11 channel: retries, refusals, stale and other events, access token, pure parts."""

from __future__ import annotations

import json
import time

import pytest

from bot.app import create_app
from bot.channels.onebot import MAX_REPLY_CHARS, OnebotChannel, limit_reply, message_content
from bot.inbound import Reply
from models.events import DialogState, InboundEvent
from tests.conftest import make_config
from tests.onebot_channel.tools import (
    GROUP,
    SECRET,
    SELF_ID,
    USER,
    Cqhttp,
    at,
    go_json,
    op,
    sign,
    text,
)

# -- retries ---------------------------------------------------------------


async def test_duplicate_delivery_acts_once(cq):
    payload = cq.private("/改称呼")
    first = await cq.send(payload)
    again = await cq.send(payload)
    assert "怎么称呼您" in first["reply"]
    assert again == first
    assert await DialogState.filter(user_key=f"onebot:{USER}").count() == 1
    assert await InboundEvent.filter(event_key=f"{SELF_ID}:{payload['message_id']}").count() == 1


async def test_same_message_id_from_another_bot_is_not_a_duplicate(cq):
    payload = cq.private("/帮助")
    await cq.send(payload)
    other = dict(payload, self_id=20002000)
    assert (await cq.send(other, self_id=20002000))["reply"].startswith("连心 · 可用命令")
    assert await InboundEvent.all().count() == 2


async def test_duplicate_group_delivery_repeats_text(cq):
    payload = cq.group([text("/我")])
    first = await cq.send(payload)
    again = await cq.send(payload)
    assert again["reply"] == first["reply"]


async def test_duplicate_group_delivery_keeps_at_sender(cq):
    payload = cq.group([text("/我")])
    first = await cq.send(payload)
    assert await cq.send(payload) == first


# -- refusals --------------------------------------------------------------


async def test_missing_signature_401(cq):
    resp = await cq.post(cq.private("/帮助"), sign_it=False)
    assert resp.status == 401


async def test_wrong_signature_403(cq):
    payload = cq.private("/帮助")
    resp = await cq.post(payload, signature=sign(go_json(payload), "another-secret"))
    assert resp.status == 403
    resp = await cq.post(payload, signature="sha1=" + "0" * 40)
    assert resp.status == 403
    resp = await cq.post(payload, signature="md5=nonsense")
    assert resp.status == 403
    resp = await cq.post(payload, signature="sha1=非ascii")
    assert resp.status == 403


async def test_signature_over_reserialized_json_403(cq):
    payload = cq.private("/帮助")
    raw = go_json(payload)
    # Same JSON value, different bytes: a signature over one does not cover the other.
    reserialized = json.dumps(json.loads(raw)).encode()
    assert reserialized != raw and json.loads(reserialized) == json.loads(raw)
    resp = await cq.post(payload, body=raw, signature=sign(reserialized))
    assert resp.status == 403
    resp = await cq.post(payload, body=reserialized, signature=sign(raw))
    assert resp.status == 403
    # Signing the bytes actually sent works for either form.
    assert (await cq.post(payload, body=reserialized)).status == 200


async def test_uppercase_hex_signature_accepted(cq):
    raw = go_json(cq.private("/帮助"))
    resp = await cq.post(None, body=raw, signature="sha1=" + sign(raw)[5:].upper())
    assert resp.status == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"{}", b'{"post_type": 5}'],
    ids=["broken", "empty", "binary", "array", "string", "no-post-type", "post-type-int"],
)
async def test_malformed_bodies_400(cq, body):
    resp = await cq.post(None, body=body)
    assert resp.status == 400


async def test_deeply_nested_json_400(client):
    cq = Cqhttp(client)
    resp = await cq.post(None, body=b"[" * 30000 + b"]" * 30000)
    assert resp.status == 400


async def test_self_id_header_mismatch_400(cq):
    payload = cq.private("/帮助")
    assert (await cq.post(payload, self_id=99999)).status == 400
    # Either one alone is fine.
    assert (await cq.post(cq.private("/帮助"), self_id=None)).status == 200


async def test_bad_ids_400(cq):
    assert (await cq.post(cq.private("/帮助", user_id="abc"))).status == 400
    assert (await cq.post(cq.group("/帮助", group_id=None))).status == 400
    assert (await cq.post(cq.private("/帮助", user_id=True))).status == 400


async def test_get_not_allowed(client):
    resp = await client.get("/onebot")
    assert resp.status == 405


async def test_refusals_are_counted(cq, client):
    await cq.post(cq.private("/帮助"), sign_it=False)
    await cq.post(cq.private("/帮助"), signature="sha1=00")
    await cq.post(None, body=b"nope")
    metrics = await (await client.get("/metrics")).text()
    for reason in ("no_signature", "bad_signature", "bad_json"):
        assert f'platform="onebot",reason="{reason}"}} 1.0' in metrics, reason


# -- other events ----------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"post_type": "notice", "notice_type": "group_recall", "group_id": GROUP, "user_id": USER},
        {"post_type": "notice", "notice_type": "friend_add", "user_id": USER},
        {
            "post_type": "request",
            "request_type": "friend",
            "user_id": USER,
            "comment": "加个好友",
            "flag": "f1",
        },
        {
            "post_type": "request",
            "request_type": "group",
            "sub_type": "add",
            "group_id": GROUP,
            "user_id": USER,
            "flag": "f2",
        },
        {"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 5000},
        {"post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "enable"},
        {"post_type": "something_new"},
        {"post_type": "message", "message_type": "guild", "user_id": USER, "message": "hi"},
    ],
    ids=lambda e: f"{e['post_type']}-{e.get('notice_type') or e.get('request_type') or ''}",
)
async def test_other_events_204(cq, event):
    payload = {"time": 1515204254, "self_id": SELF_ID, **event}
    assert await cq.send(payload) is None


# -- access token and no secret ----------------------------------------------


async def test_access_token_is_accepted_not_required(aiohttp_client, db_url):
    config = make_config(db_url, onebot={"enabled": True, "secret": SECRET, "access_token": "tk"})
    cq = Cqhttp(await aiohttp_client(create_app(config)))
    assert (await cq.post(cq.private("/帮助"))).status == 200
    ok = {"Authorization": "Bearer tk"}
    assert (await cq.post(cq.private("/帮助"), extra_headers=ok)).status == 200
    bad = {"Authorization": "Bearer nope"}
    assert (await cq.post(cq.private("/帮助"), extra_headers=bad)).status == 403
    # The token never replaces the signature.
    assert (await cq.post(cq.private("/帮助"), sign_it=False, extra_headers=ok)).status == 401


async def test_without_secret_unsigned_events_are_taken(aiohttp_client, db_url):
    # bot.config refuses onebot.enabled without a secret; the channel still copes.
    config = make_config(db_url)
    config.onebot.enabled = True
    cq = Cqhttp(await aiohttp_client(create_app(config)), secret=None)
    answer = await cq.send(cq.private("/帮助"))
    assert answer["reply"].startswith("连心 · 可用命令")


# -- pure parts ----------------------------------------------------------------


def test_message_content_rules():
    me = str(SELF_ID)
    assert message_content([at(55555), text(" 看这个")], me) == ("@55555 看这个", False, "text")
    assert message_content([at("all"), text(" 开会")], me) == ("@all 开会", False, "text")
    assert message_content([at(SELF_ID)], me) == ("", True, "text")
    assert message_content([{"type": "record", "data": {"file": "a.amr"}}], me) == (
        "",
        False,
        "voice",
    )
    assert message_content([{"type": "face", "data": {"id": "1"}}], me) == ("", False, "text")
    # Text next to an image is still text.
    image = {"type": "image", "data": {"file": "1.jpg"}}
    assert message_content([image, text("看图")], me) == ("看图", False, "text")
    # No self_id known: nothing counts as a mention of the bot.
    assert message_content([at(SELF_ID), text("hi")], "") == (f"@{SELF_ID}hi", False, "text")
    assert message_content(None, me) == ("", False, "text")


def test_limit_reply():
    assert limit_reply("短") == "短"
    exact = "x" * MAX_REPLY_CHARS
    assert limit_reply(exact) == exact
    cut = limit_reply("ab " * 3000)
    assert len(cut) <= MAX_REPLY_CHARS and cut.endswith("b…")


def test_several_replies_joined_with_blank_line():
    resp = OnebotChannel._quick_reply([Reply("一", at_sender=True), Reply("二")], True)
    assert json.loads(resp.body) == op("一\n\n二", at_sender=True)
    resp = OnebotChannel._quick_reply([Reply("一", at_sender=True)], False)
    assert json.loads(resp.body) == op("一")
    resp = OnebotChannel._quick_reply([Reply("x")], True)
    assert json.loads(resp.body) == op("x", at_sender=False)
    assert OnebotChannel._quick_reply([], True).status == 204
    assert OnebotChannel._quick_reply([Reply("")], False).status == 204


async def test_old_events_are_refused_as_replays(cq, client):
    p = cq.private("/帮助")
    p["time"] = int(time.time()) - 11 * 60  # onebot.max_event_age_seconds: 10 minutes
    assert (await cq.post(p)).status == 403
    metrics = await (await client.get("/metrics")).text()
    assert 'platform="onebot",reason="stale_event"} 1.0' in metrics
    p = cq.private("/帮助")
    p["time"] = int(time.time()) - 9 * 60
    assert (await cq.send(p))["reply"].startswith("连心 · 可用命令")
