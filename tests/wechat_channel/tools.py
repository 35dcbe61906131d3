"""Helpers for WeChat Official Account channel (/wechat) tests over real loopback HTTP.

Requests are built the way WeChat's message-push server builds them
(shared/protocols.md §1): query ``signature``/``timestamp``/``nonce`` with
``signature = sha1(sorted(token, timestamp, nonce))`` computed with hashlib
(tests/tencent_crypto.py), XML bodies with CDATA fields, the samples from
tests/samples (copies of shared/platform-samples) verbatim. Plain mode is tested in
this package; safe/compatible mode in tests/test_channel_wechat_crypto.py; the 5-second
budget, retries and the customer-service path in tests/test_channel_wechat_late.py.
Those files and others share the helpers here.
"""

from __future__ import annotations

import json
import secrets
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bot.app import RUNTIME, create_app
from bot.inbound import Inbound
from tests.conftest import make_config
from tests.talk_texts import PLAIN_HINT as PLAIN_HINT  # re-exported for the other test files
from tests.tencent_crypto import sha1_signature

SAMPLES = Path(__file__).parent.parent / "samples"  # copies of shared/platform-samples
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
