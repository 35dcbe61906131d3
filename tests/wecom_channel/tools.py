"""Helpers for the WeCom self-built app callback (/wecom) tests, over real loopback HTTP.

Requests are built the way WeCom builds them (shared/protocols.md §2): the
published vectors verbatim, and fresh messages encrypted with the `cryptography`
package directly (tests/tencent_crypto.py: AES-256-CBC, IV = key[:16], PKCS#7 to
32 bytes, random(16) + msg_len + msg + CorpID) — never with the channel's own encoder.
Replies are opened the same way and their MsgSignature recomputed.
"""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.tencent_crypto import decrypt, encrypt
from tests.tencent_crypto import sha1_signature as sha1_sig

SAMPLES = Path(__file__).parent.parent / "samples"  # copies of shared/platform-samples
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


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)
