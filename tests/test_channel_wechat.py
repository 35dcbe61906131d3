"""WeChat Official Account channel (/wechat), plain mode, over real loopback HTTP.

Requests are built the way WeChat's message-push server builds them
(shared/protocols.md §1): query ``signature``/``timestamp``/``nonce`` with
``signature = sha1(sorted(token, timestamp, nonce))`` computed with hashlib
(tests/tencent_crypto.py), XML bodies with CDATA fields, the samples from
tests/samples (copies of shared/platform-samples) verbatim. Safe/compatible mode is in
test_channel_wechat_crypto.py; the 5-second budget, retries and the
customer-service path in test_channel_wechat_late.py. The helpers here are
shared by those files.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.app import RUNTIME, create_app
from bot.channels.tencent import cdata, declares_dtd, text_reply_xml
from bot.inbound import Inbound
from bot.text import utf8_len
from tests.conftest import make_config
from tests.talk_texts import PLAIN_HINT
from tests.tencent_crypto import sha1_signature

SAMPLES = Path(__file__).parent / "samples"  # copies of shared/platform-samples
VECTORS = json.loads((SAMPLES / "published_vectors.json").read_text("utf-8"))

# The sample credentials of protocols.md (Tencent's WXBizMsgCrypt MP sample).
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"
SECRET = "fake-app-secret-for-tests"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
ACCOUNT = "gh_97417a04a28d"
# Published vectors carry timestamps from 2014/2024: their tests switch the replay check off.
NO_SKEW = 10**10

WELCOME = (
    "欢迎关注连心！这里可以办理党员报到、提交诉求、报名组织生活和志愿活动。\n"
    "发送 /帮助 查看全部功能。"
)


VOICE_WITHOUT_TEXT = "收到您的语音，不过没能听出文字。请发文字或开启语音转文字。"


def unsupported(what: str) -> str:
    return f"收到您的{what}，不过我暂时只能看懂文字。请用文字描述，或发送 /帮助 查看可用命令。"


RENAME_ASK = "请问怎么称呼您？（直接回复称呼，1 到 20 个字；发送 /取消 退出）"
HELP_HEAD = "连心 · 可用命令"


# -- building requests the way WeChat does ---------------------------------------


def fresh_query(token: str = TOKEN, *, ts: int | None = None, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    nonce = str(secrets.randbelow(10**10))
    return {
        "signature": sha1_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": OPENID,
        **extra,
    }


def cd(text: str) -> str:
    """CDATA the way WeChat writes it (a "]]>" in the text is split)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_xml(
    content: str,
    msg_id: int | str,
    *,
    openid: str = OPENID,
    account: str = ACCOUNT,
    create_time: int | None = None,
) -> str:
    return (
        f"<xml><ToUserName>{cd(account)}</ToUserName>"
        f"<FromUserName>{cd(openid)}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cd(content)}</Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(event: str, *, openid: str = OPENID, create_time: int | None = None, **more) -> str:
    extra = "".join(f"<{k}>{cd(str(v))}</{k}>" for k, v in more.items())
    return (
        f"<xml><ToUserName>{cd(ACCOUNT)}</ToUserName>"
        f"<FromUserName>{cd(openid)}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event>{cd(event)}</Event>{extra}</xml>"
    )


def reply_fields(body: str) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == "xml"
    return {child.tag: child.text or "" for child in root}


def sample(name: str) -> str:
    return (SAMPLES / f"wechat_{name}.xml").read_text("utf-8")


def wechat_config(db_url: str, bot: dict[str, Any] | None = None, **wechat: Any):
    values: dict[str, Any] = {"enabled": True, "token": TOKEN, "mode": "plain"}
    values.update(wechat)
    return make_config(db_url, wechat=values, bot=bot or {})


async def start(aiohttp_client, db_url: str, bot: dict[str, Any] | None = None, **wechat: Any):
    return await aiohttp_client(create_app(wechat_config(db_url, bot, **wechat)))


# Replies go a page at a time ([bot] page_chars); with paging off, the channel itself
# must still fit any text into WeChat's limits: what the long-text tests check.
WHOLE = {"page_chars": 0}


class WechatPush:
    """Plays WeChat's message-push server against /wechat."""

    def __init__(self, client, token: str = TOKEN) -> None:
        self.client = client
        self.token = token
        self._msg_id = 6054768590064713728

    def msg_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    async def post(self, body: str | bytes, params: dict[str, str] | None = None):
        data = body.encode("utf-8") if isinstance(body, str) else body
        return await self.client.post(
            "/wechat",
            params=fresh_query(self.token) if params is None else params,
            data=data,
            headers={"Content-Type": "text/xml"},
        )

    async def exchange(self, body: str | bytes, params: dict[str, str] | None = None) -> str:
        """POST and return the reply Content, or "success" for the empty answer."""
        resp = await self.post(body, params)
        raw = await resp.text()
        assert resp.status == 200, raw
        if raw == "success":
            return raw
        fields = reply_fields(raw)
        assert fields["MsgType"] == "text"
        return fields["Content"]

    async def say(self, text: str, *, msg_id: int | None = None, openid: str = OPENID) -> str:
        return await self.exchange(text_xml(text, msg_id or self.msg_id(), openid=openid))


def spy_inbounds(client) -> list[Inbound]:
    """Record what the channel hands the dispatcher (the dispatcher still runs)."""
    rt = client.server.app[RUNTIME]
    seen: list[Inbound] = []
    original = rt.dispatcher.handle

    async def handle(inbound: Inbound):
        seen.append(inbound)
        return await original(inbound)

    rt.dispatcher.handle = handle
    return seen


async def metric(client, name: str, **labels: str) -> float:
    text = await (await client.get("/metrics")).text()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def rejected(client, reason: str) -> float:
    return await metric(client, "lianxin_rejected_requests_total", platform="wechat", reason=reason)


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


# -- content edge cases -----------------------------------------------------------------


async def test_empty_content_answers_success(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    assert await wechat.say("") == "success"
    assert await wechat.say("   ") == "success"
    empty_element = text_xml("x", wechat.msg_id()).replace("<Content><![CDATA[x]]></Content>", "")
    assert await wechat.exchange(empty_element) == "success"


async def test_emoji_and_cdata_terminator_round_trip(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    reply = await wechat.say("/👋🏻党建")
    assert reply.startswith("没有“/👋🏻党建”这个命令。"), reply
    # A user's "]]>" is echoed back inside CDATA without breaking the XML.
    reply = await wechat.say("/]]><x>&amp]]>")
    assert reply.startswith("没有“/]]><x>&amp]]>”这个命令。"), reply
    # "<!DOCTYPE" typed by a user sits inside CDATA: a message, not a declaration.
    reply = await wechat.say("/<!DOCTYPE html>")
    assert reply.startswith("没有“/<!doctype”这个命令。"), reply  # command words are folded


async def test_long_text_reply_fits_2048_bytes_without_sender(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url, WHOLE)
    wechat = WechatPush(client)
    assert await wechat.say("字" * 4000) == PLAIN_HINT
    reply = await wechat.say("/" + "字" * 4000)
    assert utf8_len(reply) <= 2048
    assert reply.startswith("没有“/字字字")
    assert reply.endswith("…")


def test_reply_xml_helpers():
    assert cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
    assert cdata("bell\x07") == "<![CDATA[bell]]>"
    xml = text_reply_xml(OPENID, ACCOUNT, "x]]>y", 12345678)
    assert reply_fields(xml) == {
        "ToUserName": OPENID,
        "FromUserName": ACCOUNT,
        "CreateTime": "12345678",
        "MsgType": "text",
        "Content": "x]]>y",
    }
    assert declares_dtd(b"<!DOCTYPE x><xml/>")
    assert declares_dtd(b"<xml><![CDATA[ok]]></xml><!ENTITY a 'b'>")
    assert not declares_dtd(b"<xml><a><![CDATA[<!DOCTYPE x>]]></a></xml>")
    # Linear even for a body full of unterminated CDATA openers.
    assert not declares_dtd(b"<xml>" + b"<![CDATA[" * 20000)


# -- refusals ---------------------------------------------------------------------------


async def test_signature_and_replay_refusals(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    body = text_xml("/帮助", wechat.msg_id())
    good = fresh_query()

    wrong = good | {"signature": sha1_signature("wrong", good["timestamp"], good["nonce"])}
    assert (await wechat.post(body, wrong)).status == 403
    # The signature covers the nonce: changing it breaks the signature.
    assert (await wechat.post(body, good | {"nonce": good["nonce"] + "1"})).status == 403
    no_sig = {k: v for k, v in good.items() if k != "signature"}
    assert (await wechat.post(body, no_sig)).status == 403
    assert (await wechat.post(body, {})).status == 400
    assert (await wechat.post(body, {"signature": good["signature"]})).status == 400
    stale = fresh_query(ts=int(time.time()) - 301 - 5)
    assert (await wechat.post(body, stale)).status == 403
    future = fresh_query(ts=int(time.time()) + 3600)
    assert (await wechat.post(body, future)).status == 403
    # An encrypted request in plain mode with no EncodingAESKey configured.
    aes = good | {"encrypt_type": "aes", "msg_signature": "0" * 40}
    assert (await wechat.post(body, aes)).status == 400
    assert await rejected(client, "bad_signature") == 2
    assert await rejected(client, "missing_signature") == 1
    assert await rejected(client, "missing_params") == 2
    assert await rejected(client, "stale_timestamp") == 2
    assert await rejected(client, "no_aes_key") == 1
    # None of them reached the dispatcher.
    assert await metric(client, "lianxin_events_total", platform="wechat") == 0
    # Within the allowed skew it is accepted.
    ok = fresh_query(ts=int(time.time()) - 200)
    assert (await wechat.exchange(body, ok)).startswith(HELP_HEAD)


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"", "empty_body"),
        (b"not xml at all", "bad_xml"),
        (b"<xml><MsgType>text</MsgType>", "bad_xml"),
        (b"<notxml><MsgType>text</MsgType><FromUserName>o</FromUserName></notxml>", "bad_xml"),
        ("<xml><MsgType>text</MsgType></xml>".encode("utf-16"), "bad_encoding"),
        (b"<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>", "missing_fields"),
        (b"<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>", "missing_fields"),
        (
            b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName>"
            b"<CreateTime>yesterday</CreateTime></xml>",
            "bad_create_time",
        ),
        (
            b"<xml><MsgType>text</MsgType><MsgType>image</MsgType>"
            b"<FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>",
            "bad_xml",
        ),
    ],
    ids=[
        "empty",
        "garbage",
        "unclosed",
        "wrong-root",
        "utf16",
        "no-msgtype",
        "no-from",
        "bad-createtime",
        "repeated-field",
    ],
)
async def test_malformed_bodies_400(aiohttp_client, db_url, body, reason):
    client = await start(aiohttp_client, db_url)
    resp = await WechatPush(client).post(body)
    assert resp.status == 400, await resp.text()
    assert await rejected(client, reason) == 1


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE xml [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    + "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    + "<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"
)


async def test_dtd_and_entities_refused_before_parsing(aiohttp_client, aiohttp_server, db_url):
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text='<!ENTITY leak "x">')

    evil = web.Application()
    evil.router.add_get("/{tail:.*}", record)
    server = await aiohttp_server(evil)
    url = str(server.make_url("/evil.dtd"))

    client = await start(aiohttp_client, db_url)
    seen = spy_inbounds(client)
    wechat = WechatPush(client)
    msg = text_xml("&x;", 1, account="gh").replace("<![CDATA[&x;]]>", "&x;")
    bodies = [
        BILLION_LAUGHS,
        f'<!DOCTYPE xml [<!ENTITY x SYSTEM "{url}">]>{msg}',
        f'<!DOCTYPE xml [<!ENTITY % p SYSTEM "{url}"> %p;]>{msg}',
        f'<!DOCTYPE xml SYSTEM "{url}">{msg.replace("&x;", "hi")}',
        f'<!DOCTYPE xml [<!ENTITY x "expanded">]>{msg}',
        f'<?xml version="1.0"?>\n  <!doctype xml [<!ENTITY x "expanded">]>{msg}',
    ]
    for body in bodies:
        started = time.perf_counter()
        resp = await wechat.post(body)
        assert resp.status == 400, body
        assert time.perf_counter() - started < 1.0
    assert await rejected(client, "dtd_forbidden") == len(bodies)
    await asyncio.sleep(0.1)
    assert hits == []  # nothing fetched
    assert seen == []  # nothing dispatched


async def test_oversize_body_413(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    body = text_xml("字" * 30000, wechat.msg_id())  # ~90 KB > server.max_body_bytes (64 KiB)
    resp = await wechat.post(body)
    assert resp.status == 413
    assert await rejected(client, "too_large") == 1
    # The server is fine afterwards.
    assert (await wechat.say("/帮助")).startswith(HELP_HEAD)


async def test_unexpected_failure_answers_success(aiohttp_client, db_url, caplog):
    client = await start(aiohttp_client, db_url)
    rt = client.server.app[RUNTIME]

    async def explode(inbound):
        raise RuntimeError("boom")

    rt.dispatcher.handle = explode
    resp = await WechatPush(client).post(text_xml("/帮助", 42))
    assert (resp.status, await resp.text()) == (200, "success")
    assert (
        await metric(
            client, "lianxin_events_total", platform="wechat", command="-", outcome="channel_error"
        )
        == 1
    )
    assert "unexpected failure" in caplog.text
