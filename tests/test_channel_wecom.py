"""WeCom self-built app callback (/wecom) over real loopback HTTP.

Requests are built the way WeCom builds them (shared/protocols.md §2): the
published vectors verbatim, and fresh messages encrypted with the `cryptography`
package directly (tests/tencent_crypto.py: AES-256-CBC, IV = key[:16], PKCS#7 to
32 bytes, random(16) + msg_len + msg + CorpID) — never with the channel's own encoder.
Replies are opened the same way and their MsgSignature recomputed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from yarl import URL

from bot.app import CHANNELS, RUNTIME
from bot.channels.wecom import WecomChannel
from bot.inbound import Inbound, Reply
from models.deliveries import Delivery
from models.events import DialogState, InboundEvent
from models.people import Person
from tests.conftest import make_config
from tests.fakes.wecom_api import FakeWecomAPI
from tests.talk_texts import PLAIN_HINT
from tests.tencent_crypto import decrypt, encrypt
from tests.tencent_crypto import sha1_signature as sha1_sig

SAMPLES = Path("/work/shared/platform-samples")
VECTORS = json.loads((SAMPLES / "published_vectors.json").read_text("utf-8"))
DOC = VECTORS["wecom_official_doc"]
TENCENT = VECTORS["wecom_tencent_python_sample"]

SECRET = "wecom-app-secret-0123456789"
DOC_CREDS = {
    "token": DOC["token"],
    "key": DOC["encoding_aes_key"],
    "corp": DOC["corp_id"],
    "agent": 218,
}
TENCENT_CREDS = {
    "token": TENCENT["token"],
    "key": TENCENT["encoding_aes_key"],
    "corp": TENCENT["corp_id"],
    "agent": 1000002,
}

WELCOME = "欢迎关注连心！"
RENAME_ASK = "请问怎么称呼您？（直接回复称呼，1 到 20 个字；发送 /取消 退出）"
RENAME_DONE = "好的，以后就称呼您“小明”。"


def xml_fields(text: str | bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(text)}


def message_xml(
    user: str,
    corp: str,
    *,
    content: str | None = None,
    msg_id: str | None = None,
    event: str | None = None,
    event_key: str | None = None,
    msg_type: str | None = None,
    agent: int = 218,
    create_time: int | None = None,
    extra: str = "",
) -> str:
    """A decrypted WeCom message or event like the samples in platform-samples/wecom_*.xml."""
    create_time = create_time or int(time.time())
    kind = msg_type or ("event" if event else "text")
    parts = [
        f"<ToUserName><![CDATA[{corp}]]></ToUserName>",
        f"<FromUserName><![CDATA[{user}]]></FromUserName>",
        f"<CreateTime>{create_time}</CreateTime>",
        f"<MsgType><![CDATA[{kind}]]></MsgType>",
    ]
    if content is not None:
        parts.append(f"<Content><![CDATA[{content}]]></Content>")
    if event is not None:
        parts.append(f"<Event><![CDATA[{event}]]></Event>")
    if event_key is not None:
        parts.append(f"<EventKey><![CDATA[{event_key}]]></EventKey>")
    if msg_id is not None:
        parts.append(f"<MsgId>{msg_id}</MsgId>")
    parts.append(f"<AgentID>{agent}</AgentID>")
    return "<xml>" + "".join(parts) + extra + "</xml>"


class WecomServer:
    """Plays WeCom's callback side against /wecom."""

    def __init__(self, client, creds: dict[str, Any]) -> None:
        self.client = client
        self.token = creds["token"]
        self.key = creds["key"]
        self.corp = creds["corp"]
        self.agent = creds["agent"]
        self.next_msg_id = 7_000_000_000_000_000_000
        self.event_seconds = 0

    def msg_id(self) -> str:
        self.next_msg_id += 1
        return str(self.next_msg_id)

    async def post_encrypted(
        self,
        encrypted: str,
        *,
        timestamp: str | None = None,
        nonce: str = "1372623149",
        signature: str | None = None,
        to_user: str | None = None,
    ):
        timestamp = timestamp or str(int(time.time()))
        sig = sha1_sig(self.token, timestamp, nonce, encrypted) if signature is None else signature
        body = (
            f"<xml><ToUserName><![CDATA[{to_user or self.corp}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<AgentID><![CDATA[{self.agent}]]></AgentID></xml>"
        )
        params = {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce}
        return await self.client.post("/wecom", params=params, data=body.encode())

    async def post_message(self, xml: str, **kw: Any):
        return await self.post_encrypted(encrypt(self.key, self.corp, xml.encode()), **kw)

    async def answer(self, resp, nonce: str = "1372623149") -> dict[str, str] | None:
        """The decrypted reply fields, or None for an empty body; checks the envelope."""
        assert resp.status == 200, (resp.status, await resp.text())
        raw = await resp.read()
        if raw == b"":
            return None
        env = xml_fields(raw)
        assert set(env) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
        assert env["Nonce"] == nonce
        assert env["MsgSignature"] == sha1_sig(
            self.token, env["TimeStamp"], env["Nonce"], env["Encrypt"]
        )
        _, plain, receive_id = decrypt(self.key, env["Encrypt"])
        assert receive_id == self.corp
        return xml_fields(plain)

    async def say(self, text: str, user: str = "zhangsan", msg_id: str | None = None) -> Any:
        xml = message_xml(user, self.corp, content=text, msg_id=msg_id or self.msg_id())
        return await self.answer(await self.post_message(xml))

    async def event(self, event: str, user: str = "zhangsan", key: str | None = None) -> Any:
        # Events are deduplicated by FromUserName:CreateTime: one per second per user.
        self.event_seconds += 1
        create_time = int(time.time()) + self.event_seconds
        xml = message_xml(user, self.corp, event=event, event_key=key, create_time=create_time)
        return await self.answer(await self.post_message(xml))


# -- fixtures ----------------------------------------------------------------


@pytest.fixture
def creds(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", DOC_CREDS)


@pytest.fixture
async def fake(aiohttp_server, creds) -> FakeWecomAPI:
    return await FakeWecomAPI(creds["corp"], SECRET, creds["agent"]).serve(aiohttp_server)


@pytest.fixture
def config(db_url: str, fake: FakeWecomAPI, creds: dict[str, Any]):
    """The conftest `client` then runs the app with the wecom channel on."""
    return make_config(
        db_url,
        wecom={
            "enabled": True,
            "corp_id": creds["corp"],
            "agent_id": creds["agent"],
            "secret": SECRET,
            "token": creds["token"],
            "encoding_aes_key": creds["key"],
            "api_base": fake.base_url,
        },
    )


@pytest.fixture
def channel(client) -> WecomChannel:
    [ch] = [c for c in client.app[CHANNELS] if c.name == "wecom"]
    return ch


@pytest.fixture
def wecom(client, creds) -> WecomServer:
    return WecomServer(client, creds)


@pytest.fixture
def seen(client, monkeypatch) -> list[Inbound]:
    """Every Inbound the channel hands to the dispatcher."""
    dispatcher = client.app[RUNTIME].dispatcher
    original = dispatcher.handle
    inbounds: list[Inbound] = []

    async def spy(inb: Inbound) -> list[Reply]:
        inbounds.append(inb)
        return await original(inb)

    monkeypatch.setattr(dispatcher, "handle", spy)
    return inbounds


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


# -- URL verification (GET) ------------------------------------------------


async def test_url_verification_tencent_vector(client, channel):
    v = DOC["verify_url"]
    channel.clock = lambda: int(v["timestamp"]) + 5  # the vector is from 2014
    query = (
        f"msg_signature={v['msg_signature']}&timestamp={v['timestamp']}"
        f"&nonce={v['nonce']}&echostr={v['echostr_urlencoded']}"
    )
    resp = await client.get(URL(f"/wecom?{query}", encoded=True))
    assert resp.status == 200
    assert await resp.read() == b"1616140317555161061"  # no quotes, BOM or newline
    assert resp.content_type == "text/plain"


async def test_url_verification_unencoded_plus_is_restored(client, channel):
    # A "+" sent raw arrives as a space after URL-decoding; base64 never has one.
    v = DOC["verify_url"]
    channel.clock = lambda: int(v["timestamp"])
    query = (
        f"msg_signature={v['msg_signature']}&timestamp={v['timestamp']}"
        f"&nonce={v['nonce']}&echostr={v['echostr']}"
    )
    assert "+" in v["echostr"]
    resp = await client.get(URL(f"/wecom?{query}", encoded=True))
    assert (resp.status, await resp.read()) == (200, b"1616140317555161061")


@pytest.mark.parametrize("creds", [TENCENT_CREDS], indirect=True)
async def test_url_verification_sbzhu_vector(client, channel):
    v = TENCENT["verify_url"]
    channel.clock = lambda: int(v["timestamp"]) - 100
    query = (
        f"msg_signature={v['msg_signature']}&timestamp={v['timestamp']}"
        f"&nonce={v['nonce']}&echostr={quote(v['echostr'], safe='')}"
    )
    resp = await client.get(URL(f"/wecom?{query}", encoded=True))
    assert (resp.status, await resp.read()) == (200, v["expected_response_body"].encode())


async def test_url_verification_fresh(client, wecom):
    ts, nonce = str(int(time.time())), "5550123"
    echostr = encrypt(wecom.key, wecom.corp, b"8317355806124562901")
    params = {
        "msg_signature": sha1_sig(wecom.token, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    resp = await client.get("/wecom", params=params)
    assert (resp.status, await resp.read()) == (200, b"8317355806124562901")


async def test_url_verification_refusals(client, channel, wecom):
    v = DOC["verify_url"]
    channel.clock = lambda: int(v["timestamp"])
    good = {k: v[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")}

    async def status(**changes: Any) -> int:
        params = {k: val for k, val in {**good, **changes}.items() if val is not None}
        return (await client.get("/wecom", params=params)).status

    assert await status() == 200
    assert await status(msg_signature="0" * 40) == 403
    assert await status(msg_signature=None) == 403
    assert await status(nonce="263014781") == 403  # signed over another nonce
    assert await status(echostr=None) == 400
    assert await status(timestamp=None) == 400
    assert await status(nonce=None) == 400
    assert await status(timestamp="yesterday") == 400
    # Right signature, but the clock says the request is 10 minutes old.
    channel.clock = lambda: int(v["timestamp"]) + 600
    assert await status() == 403
    # Signed correctly but encrypted for another corp.
    ts, nonce = str(int(time.time())), "1"
    channel.clock = time.time
    other = encrypt(wecom.key, "wwSomeoneElse", b"123")
    assert (
        await status(
            msg_signature=sha1_sig(wecom.token, ts, nonce, other),
            timestamp=ts,
            nonce=nonce,
            echostr=other,
        )
        == 403
    )


# -- messages (POST) ---------------------------------------------------------


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
        "Content": PLAIN_HINT,
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


async def test_bad_signature_is_403(client, wecom, seen):
    xml = message_xml("zhangsan", wecom.corp, content="/帮助", msg_id="1")
    resp = await wecom.post_message(xml, signature="0" * 40)
    assert resp.status == 403
    resp = await wecom.post_message(xml, signature="")
    assert resp.status == 403
    # Signed for another nonce than the one in the query.
    enc = encrypt(wecom.key, wecom.corp, xml.encode())
    ts = str(int(time.time()))
    resp = await wecom.post_encrypted(
        enc, timestamp=ts, nonce="2", signature=sha1_sig(wecom.token, ts, "1", enc)
    )
    assert resp.status == 403
    assert seen == []


async def test_replayed_timestamp_is_403(wecom, seen):
    xml = message_xml("zhangsan", wecom.corp, content="/帮助", msg_id="2")
    for offset in (-301, 301, -3600):
        resp = await wecom.post_message(xml, timestamp=str(int(time.time()) + offset))
        assert resp.status == 403, offset
    resp = await wecom.post_message(xml, timestamp=str(int(time.time()) - 250))
    assert resp.status == 200
    assert len(seen) == 1


async def test_message_for_another_corp_is_403(wecom, seen):
    xml = message_xml("zhangsan", "wwSomeoneElse", content="/帮助", msg_id="3")
    enc = encrypt(wecom.key, "wwSomeoneElse", xml.encode())
    resp = await wecom.post_encrypted(enc)
    assert resp.status == 403
    assert seen == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<xml><ToUserName>x</ToUserName><Encrypt>abc",
        b"<root><Encrypt>abc</Encrypt></root>",
        b"<xml><ToUserName>x</ToUserName></xml>",
        b"\xff\xfe<xml/>",
    ],
)
async def test_malformed_body_is_400(client, wecom, body, seen):
    ts, nonce = str(int(time.time())), "1"
    params = {
        "msg_signature": sha1_sig(wecom.token, ts, nonce, ""),
        "timestamp": ts,
        "nonce": nonce,
    }
    resp = await client.post("/wecom", params=params, data=body)
    assert resp.status == 400
    assert seen == []


async def test_doctype_is_refused_before_parsing(client, wecom, seen):
    enc = encrypt(wecom.key, wecom.corp, b"<xml/>")
    ts, nonce = str(int(time.time())), "1"
    params = {
        "msg_signature": sha1_sig(wecom.token, ts, nonce, enc),
        "timestamp": ts,
        "nonce": nonce,
    }
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"<xml><ToUserName>&b;</ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    )
    resp = await client.post("/wecom", params=params, data=bomb.encode())
    assert resp.status == 400
    external = (
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd">'
        f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    )
    resp = await client.post("/wecom", params=params, data=external.encode())
    assert resp.status == 400
    # The same inside the encrypted message.
    inner = '<!DOCTYPE xml [<!ENTITY x "y">]>' + message_xml("u", wecom.corp, content="&x;")
    resp = await wecom.post_message(inner)
    assert resp.status == 400
    assert seen == []


async def test_undecryptable_or_incomplete_message_is_400(wecom, seen):
    assert (await wecom.post_encrypted("not-base64-at-all!!")).status == 400
    assert (await wecom.post_encrypted(base64.b64encode(b"x" * 20).decode())).status == 400
    missing_user = "<xml><MsgType>text</MsgType><Content>hi</Content></xml>"
    assert (await wecom.post_message(missing_user)).status == 400
    bad_time = message_xml("u", wecom.corp, content="hi").replace(
        f"<CreateTime>{int(time.time())}</CreateTime>", "<CreateTime>soon</CreateTime>"
    )
    assert "soon" in bad_time
    assert (await wecom.post_message(bad_time)).status == 400
    assert (await wecom.post_message("<xml><unclosed></xml>")).status == 400
    assert seen == []


async def test_missing_query_params_are_400(client, wecom):
    xml = message_xml("zhangsan", wecom.corp, content="hi", msg_id="4")
    enc = encrypt(wecom.key, wecom.corp, xml.encode())
    body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode()
    ts = str(int(time.time()))
    sig = sha1_sig(wecom.token, ts, "1", enc)
    assert (
        await client.post("/wecom", params={"msg_signature": sig, "nonce": "1"}, data=body)
    ).status == 400
    assert (
        await client.post("/wecom", params={"msg_signature": sig, "timestamp": ts}, data=body)
    ).status == 400
    bad_ts = {"msg_signature": sig, "timestamp": "x", "nonce": "1"}
    assert (await client.post("/wecom", params=bad_ts, data=body)).status == 400


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


async def test_unexpected_failure_is_an_empty_200(channel, wecom, monkeypatch):
    def broken(text: str, fields: dict[str, str]) -> Inbound:
        raise RuntimeError("boom")

    monkeypatch.setattr(channel, "_to_inbound", broken)
    resp = await wecom.post_message(message_xml("zhangsan", wecom.corp, content="hi", msg_id="9"))
    assert resp.status == 200
    assert await resp.read() == b""


async def test_metrics_count_rejections(client, wecom):
    xml = message_xml("zhangsan", wecom.corp, content="hi", msg_id="10")
    await wecom.post_message(xml, signature="0" * 40)
    metrics = (await (await client.get("/metrics")).read()).decode()
    assert 'platform="wecom"' in metrics and "bad_signature" in metrics


async def test_sender_is_built_for_the_runtime(client):
    sender = client.app[RUNTIME].senders["wecom"]
    assert sender.platform == "wecom"
    assert sender.token_key == f"wecom:{DOC_CREDS['corp']}:218"


def test_invalid_aes_key_fails_at_startup(db_url):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"wecom\.encoding_aes_key"):
        make_config(
            db_url,
            wecom={
                "enabled": True,
                "corp_id": "wwx",
                "agent_id": 1,
                "secret": "s",
                "token": "t",
                "encoding_aes_key": "!" * 43,  # 43 characters, but not base64
            },
        )
