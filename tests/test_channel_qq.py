"""QQ official bot webhook over real loopback HTTP. Requests are signed the way the
platform signs them (sign.md), with cryptography's Ed25519 directly — not via our code —
and the bot's passive replies land in the fake QQ OpenAPI."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot.app import CHANNELS, create_app
from bot.channels.qq import (
    QQChannel,
    message_text,
    passive_texts,
    seed_from_secret,
    verify_signature,
)
from bot.inbound import Reply
from models.deliveries import Delivery
from models.events import DialogState, InboundEvent
from tests.conftest import make_config
from tests.fakes.qq_api import FakeQQAPI

SAMPLES = Path("/work/shared/platform-samples")
VALIDATION = json.loads((SAMPLES / "qq_validation.json").read_text("utf-8"))
VECTORS = json.loads((SAMPLES / "published_vectors.json").read_text("utf-8"))
DEMO = VECTORS["qq_official_sign_demo"]

APPID = "102345678"
SECRET = "Lx9qQbotSecret7ZkP"  # shorter than 32 bytes: the seed repeats it
GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"
ACK = {"op": 12, "d": 0}


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"qq_{name}.json").read_text("utf-8"))


def platform_key(secret: str) -> Ed25519PrivateKey:
    """The platform's side of sign.md, written out here rather than imported."""
    raw = secret.encode()
    seed = raw
    while len(seed) < 32:
        seed += seed
    return Ed25519PrivateKey.from_private_bytes(seed[:32])


def compact(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class QQPlatform:
    """Plays the QQ open platform's webhook pusher against /qq."""

    def __init__(self, client, channel: QQChannel, secret: str = SECRET, appid: str = APPID):
        self.client = client
        self.channel = channel
        self.key = platform_key(secret)
        self.appid = appid
        self.counter = 0

    def signed_headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        ts = timestamp or str(int(time.time()))
        sig = self.key.sign(ts.encode() + body).hex()
        return {"X-Signature-Ed25519": sig, "X-Signature-Timestamp": ts}

    async def post(
        self,
        payload: Any = None,
        *,
        body: bytes | None = None,
        sign: bool = True,
        timestamp: str | None = None,
        appid: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        raw = compact(payload) if body is None else body
        h = {
            "Content-Type": "application/json",
            "User-Agent": "QQBot-Callback",
            "X-Bot-Appid": self.appid if appid is None else appid,
        }
        if sign:
            h.update(self.signed_headers(raw, timestamp))
        h.update(headers or {})
        return await self.client.post("/qq", data=raw, headers=h)

    async def push(self, payload: dict[str, Any]) -> None:
        resp = await self.post(payload)
        assert resp.status == 200, (resp.status, await resp.text())
        assert await resp.json() == ACK

    # -- payloads like the samples --------------------------------------------
    def next_id(self) -> str:
        self.counter += 1
        return f"ROBOT1.0_test-{self.counter:04d}"

    def group_at(self, content: str, member: str = MEMBER, **d: Any) -> dict[str, Any]:
        p = sample("group_at")
        msg_id = self.next_id()
        p["id"] = f"GROUP_AT_MESSAGE_CREATE:{msg_id}"
        p["d"].update(id=msg_id, content=content, group_openid=GROUP, **d)
        p["d"]["author"]["member_openid"] = member
        return p

    def c2c(self, content: str, user: str = MEMBER, **d: Any) -> dict[str, Any]:
        p = sample("c2c")
        msg_id = self.next_id()
        p["id"] = f"C2C_MESSAGE_CREATE:{msg_id}"
        p["d"].update(id=msg_id, content=content, **d)
        p["d"]["author"]["user_openid"] = user
        return p


async def eventually(condition, timeout: float = 5.0) -> None:
    """Poll until condition() holds (bounded)."""

    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


@pytest.fixture
async def fake(aiohttp_server) -> FakeQQAPI:
    return await FakeQQAPI(APPID, SECRET).serve(aiohttp_server)


async def start_bot(aiohttp_client, db_url: str, fake: FakeQQAPI, **qq: Any) -> QQPlatform:
    values = {
        "enabled": True,
        "appid": APPID,
        "secret": SECRET,
        "api_base": fake.base_url,
        "token_url": fake.token_url,
    }
    values.update(qq)
    app = create_app(make_config(db_url, qq=values))
    client = await aiohttp_client(app)
    [channel] = [c for c in app[CHANNELS] if isinstance(c, QQChannel)]
    return QQPlatform(client, channel, secret=values["secret"], appid=values["appid"])


@pytest.fixture
async def qq(aiohttp_client, db_url, fake) -> QQPlatform:
    return await start_bot(aiohttp_client, db_url, fake)


# -- op 13: callback URL validation --------------------------------------------


async def test_validation_official_vector(aiohttp_client, db_url, fake):
    bot = await start_bot(
        aiohttp_client,
        db_url,
        fake,
        appid=VALIDATION["bot"]["appid"],
        secret=VALIDATION["bot"]["secret"],
    )
    req = VALIDATION["request"]

    # As the docs show it: no signature headers.
    resp = await bot.client.post("/qq", data=req["body"].encode(), headers=req["headers"])
    assert resp.status == 200
    assert await resp.json() == VALIDATION["expected_response"]
    assert VALIDATION["expected_response"]["signature"].endswith("c706")

    # Signed (as botgo expects it to be): the same answer.
    signed = await bot.post(body=req["body"].encode())
    assert signed.status == 200
    assert await signed.json() == VALIDATION["expected_response"]


async def test_validation_signature_is_deterministic_ed25519(qq):
    body = {"d": {"plain_token": "Arq0D5A61EgUu4OxUvOp", "event_ts": "1725442341"}, "op": 13}
    resp = await qq.post(body, sign=False)
    answer = await resp.json()
    # Verifiable with the public key that belongs to our secret.
    qq.key.public_key().verify(
        bytes.fromhex(answer["signature"]), b"1725442341Arq0D5A61EgUu4OxUvOp"
    )


async def test_unsigned_validation_cannot_sign_a_dispatch(qq):
    """Otherwise op 13 would sign timestamp + {json body} for anyone who asks."""
    forged = compact(qq.c2c("/改称呼"))
    body = {"d": {"plain_token": forged.decode(), "event_ts": "1725442341"}, "op": 13}
    resp = await qq.post(body, sign=False)
    assert resp.status == 400
    body = {"d": {"plain_token": "abc", "event_ts": "1725442341{"}, "op": 13}
    assert (await qq.post(body, sign=False)).status == 400


async def test_validation_needs_our_appid(qq):
    body = {"d": {"plain_token": "abc", "event_ts": "1725442341"}, "op": 13}
    assert (await qq.post(body, sign=False, appid="999")).status == 403
    assert (await qq.post(body, sign=False, appid="")).status == 403


# -- signatures ------------------------------------------------------------------


def test_seed_and_public_key_of_the_sign_md_demo():
    assert seed_from_secret(DEMO["secret"]) == DEMO["seed"].encode()
    assert seed_from_secret(SECRET) == (SECRET * 2).encode()[:32]
    public = platform_key(DEMO["secret"]).public_key()
    assert list(public.public_bytes(Encoding.Raw, PublicFormat.Raw)) == DEMO["public_key"]


def test_sign_md_demo_verifies_over_the_pretty_printed_body_only():
    public = Ed25519PublicKey.from_public_bytes(bytes(DEMO["public_key"]))
    pretty = DEMO["body_that_actually_verifies"].encode()
    printed = DEMO["body_as_printed_in_doc"].encode()
    assert pretty == json.dumps(json.loads(printed), indent=2).encode()
    assert verify_signature(public, DEMO["timestamp"], pretty, DEMO["signature"])
    assert not verify_signature(public, DEMO["timestamp"], printed, DEMO["signature"])
    assert not verify_signature(
        public, DEMO["timestamp"], compact(json.loads(printed)), DEMO["signature"]
    )


async def test_sign_md_demo_over_http(aiohttp_client, db_url, fake):
    bot = await start_bot(aiohttp_client, db_url, fake, secret=DEMO["secret"])
    bot.channel.clock = lambda: float(DEMO["timestamp"])
    headers = {
        "X-Signature-Ed25519": DEMO["signature"],
        "X-Signature-Timestamp": DEMO["timestamp"],
    }
    pretty = DEMO["body_that_actually_verifies"].encode()
    resp = await bot.post(body=pretty, sign=False, headers=headers)
    assert resp.status == 200
    assert await resp.json() == ACK  # an event we do not handle: acknowledged

    printed = DEMO["body_as_printed_in_doc"].encode()
    assert (await bot.post(body=printed, sign=False, headers=headers)).status == 401


async def test_missing_signature_is_401(qq, fake):
    resp = await qq.post(qq.c2c("/我"), sign=False)
    assert resp.status == 401
    # Half the headers is still missing.
    raw = compact(qq.c2c("/我"))
    only_sig = {"X-Signature-Ed25519": qq.signed_headers(raw)["X-Signature-Ed25519"]}
    assert (await qq.post(body=raw, sign=False, headers=only_sig)).status == 401
    assert (await qq.post(body=b"not json", sign=False)).status == 401
    await qq.channel.wait_idle(5)
    assert fake.requests == []
    assert await InboundEvent.all().count() == 0


async def test_bad_signatures_are_401(qq, fake):
    raw = compact(qq.c2c("/我"))
    good = qq.signed_headers(raw)
    sig = bytes.fromhex(good["X-Signature-Ed25519"])

    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    high_bits = sig[:63] + bytes([sig[63] | 0xE0])  # sig[63] & 224 must be 0
    cases = [
        flipped.hex(),
        high_bits.hex(),
        sig[:32].hex(),  # not 64 bytes
        "zz" * 64,  # not hex
        platform_key("another-secret").sign(good["X-Signature-Timestamp"].encode() + raw).hex(),
    ]
    for bad in cases:
        resp = await qq.post(body=raw, sign=False, headers={**good, "X-Signature-Ed25519": bad})
        assert resp.status == 401, bad
    # A valid signature over other bytes (the body was changed in transit).
    tampered = raw.replace(b"/\xe6\x88\x91", b"/x")
    assert (await qq.post(body=tampered, sign=False, headers=good)).status == 401
    # Signed for another timestamp.
    other_ts = {**good, "X-Signature-Timestamp": str(int(good["X-Signature-Timestamp"]) + 1)}
    assert (await qq.post(body=raw, sign=False, headers=other_ts)).status == 401

    await qq.channel.wait_idle(5)
    assert fake.requests == []


async def test_replayed_request_with_an_old_timestamp_is_401(qq, fake):
    now = int(time.time())
    old = str(now - 301)
    assert (await qq.post(qq.c2c("/我"), timestamp=old)).status == 401
    assert (await qq.post(qq.c2c("/我"), timestamp=str(now + 301))).status == 401
    assert (await qq.post(qq.c2c("/我"), timestamp="soon")).status == 401
    # The window is the channel's setting.
    qq.channel.max_skew = 600
    assert (await qq.post(qq.c2c("/我"), timestamp=old)).status == 200
    await qq.channel.wait_idle(5)
    assert len(fake.delivered) == 1


async def test_wrong_or_missing_appid_is_403(qq, fake):
    assert (await qq.post(qq.c2c("/我"), appid="999")).status == 403
    assert (await qq.post(qq.c2c("/我"), appid="")).status == 403
    await qq.channel.wait_idle(5)
    assert fake.requests == []


async def test_malformed_json_is_400(qq):
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", b""):
        assert (await qq.post(body=raw)).status == 400, raw


async def test_message_without_ids_is_400(qq):
    p = qq.c2c("/我")
    del p["d"]["author"]["user_openid"]
    assert (await qq.post(p)).status == 400
    p = qq.group_at(" /我")
    del p["d"]["id"]
    assert (await qq.post(p)).status == 400


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
