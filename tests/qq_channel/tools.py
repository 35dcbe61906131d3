"""QQ official bot webhook over real loopback HTTP. Requests are signed the way the
platform signs them (sign.md), with cryptography's Ed25519 directly — not via our code —
and the bot's passive replies land in the fake QQ OpenAPI."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bot.app import CHANNELS, create_app
from bot.channels.qq import QQChannel
from tests.conftest import make_config
from tests.fakes.qq_api import FakeQQAPI

SAMPLES = Path(__file__).parent.parent / "samples"  # copies of shared/platform-samples
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
