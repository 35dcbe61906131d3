"""WeChat plain mode: GET URL verification, every platform sample message and event."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest

from tests.talk_texts import PLAIN_HINT
from tests.tencent_crypto import sha1_signature
from tests.wechat_channel.tools import (
    ACCOUNT,
    HELP_HEAD,
    NO_SKEW,
    OPENID,
    VECTORS,
    VOICE_WITHOUT_TEXT,
    WELCOME,
    WechatPush,
    cd,
    event_xml,
    fresh_query,
    rejected,
    reply_fields,
    sample,
    spy_inbounds,
    start,
    unsupported,
)

# -- GET: URL verification ---------------------------------------------------------


async def test_url_verification_published_vector(aiohttp_client, db_url):
    v = VECTORS["wechat_official_push_doc"]
    g = v["url_verify_get"]
    # The doc's worked example: sorted string "15147114921714036504AAAAA".
    assert "".join(sorted([v["token"], g["timestamp"], g["nonce"]])) == "15147114921714036504AAAAA"
    assert sha1_signature(v["token"], g["timestamp"], g["nonce"]) == g["signature"]
    client = await start(aiohttp_client, db_url, token=v["token"], max_clock_skew_seconds=NO_SKEW)
    params = {k: g[k] for k in ("signature", "timestamp", "nonce", "echostr")}
    resp = await client.get("/wechat", params=params)
    assert resp.status == 200
    assert await resp.text() == g["expected_response_body"] == "4375120948345356249"
    assert resp.content_type == "text/plain"


async def test_url_verification_wechatpy_vector(aiohttp_client, db_url):
    v = VECTORS["wechatpy_utils_check_signature"]
    client = await start(aiohttp_client, db_url, token=v["token"], max_clock_skew_seconds=NO_SKEW)
    params = {k: v[k] for k in ("signature", "timestamp", "nonce")} | {"echostr": "hello 你好"}
    resp = await client.get("/wechat", params=params)
    assert (resp.status, await resp.text()) == (200, "hello 你好")


async def test_url_verification_fresh_and_refusals(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    good = fresh_query() | {"echostr": "8861137372846532905"}
    resp = await client.get("/wechat", params=good)
    assert (resp.status, await resp.text()) == (200, "8861137372846532905")

    wrong = good | {"signature": sha1_signature("not-the-token", good["timestamp"], good["nonce"])}
    assert (await client.get("/wechat", params=wrong)).status == 403
    no_sig = {k: v for k, v in good.items() if k != "signature"}
    assert (await client.get("/wechat", params=no_sig)).status == 403
    assert (await client.get("/wechat")).status == 400
    no_echo = {k: v for k, v in good.items() if k != "echostr"}
    assert (await client.get("/wechat", params=no_echo)).status == 400
    assert (await client.get("/wechat", params=good | {"timestamp": "soon"})).status == 400
    stale = fresh_query(ts=int(time.time()) - 3600) | {"echostr": "1"}
    assert (await client.get("/wechat", params=stale)).status == 403
    assert await rejected(client, "bad_signature") == 1
    assert await rejected(client, "missing_signature") == 1
    assert await rejected(client, "missing_params") == 2
    assert await rejected(client, "stale_timestamp") == 1


# -- every sample message and event ---------------------------------------------------

# (sample, kind, text, event_id, extra subset, reply Content or "success")
SAMPLE_CASES = [
    ("text", "text", "this is a test", "1234567890123456", {}, PLAIN_HINT),
    (
        "image",
        "image",
        "",
        "1234567890123456",
        {"pic_url": "this is a url", "media_id": "media_id"},
        unsupported("图片"),
    ),
    ("voice", "voice", "", "1234567890123456", {"media_id": "media_id"}, VOICE_WITHOUT_TEXT),
    ("voice_recognition", "text", "腾讯微信团队", "1234567890123456", {}, PLAIN_HINT),
    (
        "location",
        "location",
        "",
        "1234567890123456",
        {"lat": 23.134521, "lng": 113.358803, "label": "位置信息"},
        unsupported("位置"),
    ),
    (
        "link",
        "link",
        "",
        "1234567890123456",
        {"title": "公众平台官网链接", "url": "url"},
        unsupported("链接"),
    ),
    ("subscribe", "subscribe", "", "FromUser:123456789:subscribe", {}, WELCOME),
    (
        "subscribe_qrscene",
        "subscribe",
        "",
        "FromUser:123456789:subscribe",
        {"scene": "123123"},
        WELCOME,
    ),
    ("scan", "scan", "", "FromUser:123456789:SCAN", {"scene": "SCENE_VALUE"}, WELCOME),
    ("unsubscribe", "unsubscribe", "", "FromUser:123456789:unsubscribe", {}, "success"),
    ("click", "click", "", "FromUser:123456789:CLICK:EVENTKEY", {"key": "EVENTKEY"}, PLAIN_HINT),
    ("view", "view", "", "FromUser:123456789:VIEW", {"url": "www.qq.com"}, "success"),
    (
        "location_event",
        "location_report",
        "",
        "fromUser:123456789:LOCATION",
        {"lat": 23.137466, "lng": 113.352425},
        "success",  # an automatic report: answered with nothing
    ),
]


@pytest.mark.parametrize(
    "name,kind,text,event_id,extra,expected", SAMPLE_CASES, ids=[c[0] for c in SAMPLE_CASES]
)
async def test_platform_sample(aiohttp_client, db_url, name, kind, text, event_id, extra, expected):
    client = await start(aiohttp_client, db_url)
    seen = spy_inbounds(client)
    wechat = WechatPush(client)
    body = sample(name)
    src = ET.fromstring(body)

    resp = await wechat.post(body)
    raw = await resp.text()
    assert resp.status == 200, raw

    [inbound] = seen
    assert inbound.platform == "wechat"
    assert inbound.user_id == inbound.chat_id == src.findtext("FromUserName")
    assert (inbound.is_group, inbound.display_name) == (False, "")
    assert (inbound.kind, inbound.text, inbound.event_id) == (kind, text, event_id)
    assert inbound.timestamp == float(src.findtext("CreateTime"))
    for key, value in extra.items():
        assert inbound.extra[key] == value, key
    if name == "subscribe":
        assert "scene" not in inbound.extra

    if expected == "success":
        assert raw == "success"
        return
    fields = reply_fields(raw)
    assert fields["Content"] == expected
    assert fields["ToUserName"] == src.findtext("FromUserName")
    assert fields["FromUserName"] == src.findtext("ToUserName") == "toUser"
    assert fields["MsgType"] == "text"
    assert abs(int(fields["CreateTime"]) - time.time()) < 60
    assert resp.content_type == "application/xml"


async def test_help_command_and_menu_click(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    reply = await wechat.say("/帮助")
    assert reply.startswith(HELP_HEAD + "\n"), reply
    assert "/帮助" in reply
    # A menu button whose key is a command name runs that command.
    assert await wechat.exchange(event_xml("CLICK", EventKey="help")) == reply
    # Full-width slash and space, as phone keyboards type them.
    assert await wechat.say("／帮助") == reply
    # Two buttons clicked within one second are two events (the EventKey is in the key).
    now = int(time.time()) + 1
    assert await wechat.exchange(event_xml("CLICK", create_time=now, EventKey="help")) == reply
    me = await wechat.exchange(event_xml("CLICK", create_time=now, EventKey="me"))
    assert "平台身份：wechat:" in me


async def test_other_kinds_get_the_friendly_text(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    seen = spy_inbounds(client)
    wechat = WechatPush(client)
    video = (
        f"<xml><ToUserName>{cd(ACCOUNT)}</ToUserName><FromUserName>{cd(OPENID)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[video]]></MsgType>"
        "<MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId>"
        "<MsgId>99887766</MsgId></xml>"
    )
    assert await wechat.exchange(video) == unsupported("视频")
    assert (seen[-1].kind, seen[-1].event_id) == ("video", "99887766")
    await wechat.exchange(event_xml("SomethingNew", create_time=1700000000))
    assert (seen[-1].kind, seen[-1].event_id) == (
        "somethingnew",
        f"{OPENID}:1700000000:SomethingNew",
    )


async def test_voice_recognition_runs_as_text(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    body = sample("voice_recognition").replace("腾讯微信团队", "帮助")
    assert (await wechat.exchange(body)).startswith(HELP_HEAD)
