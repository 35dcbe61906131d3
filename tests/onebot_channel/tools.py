"""OneBot v11 HTTP POST channel over real loopback HTTP, with requests built the way
go-cqhttp builds them (Mrs4s/go-cqhttp server/http.go): compact JSON body, HMAC-SHA1 of
the raw bytes in X-Signature, X-Self-ID, User-Agent CQHttp/4.15.0."""

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from bot.app import RUNTIME
from models.people import Organization

SAMPLES = Path(__file__).parent.parent / "samples"  # copies of shared/platform-samples
SECRET = "lianxin-onebot-secret"
SELF_ID = 10001000
USER = 12345678
GROUP = 123456789

IMAGE_UNSUPPORTED = (
    "收到您的图片，不过我暂时只能看懂文字。请用文字描述，或发送 /帮助 查看可用命令。"
)
DENIED_BIND = (
    "/绑定 只有党务工作者可以使用，您的请求没有执行。\n如需开通，请联系本组织的党务工作者。"
)
BIND_USAGE = "/绑定 的格式不对。\n用法：/绑定 组织代码 [工作群]\n例如：/绑定 SQ001"
BOUND = (
    "已把本群绑定到“和平社区党委”（SQ001）。之后在本群使用的命令默认属于这个组织。"
    "工作通知（新诉求、新登记等）只发给党务工作者私聊或工作群，不会发到本群。"
)


def sample(name: str) -> dict[str, Any]:
    """A published sample, sent now (older events are refused as replays)."""
    data = json.loads((SAMPLES / f"onebot_{name}.json").read_text("utf-8"))
    if "time" in data:
        data["time"] = int(time.time())
    return data


def go_json(payload: Any) -> bytes:
    """What go-cqhttp puts on the wire: compact JSON, UTF-8, non-ASCII unescaped."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class Cqhttp:
    """Plays go-cqhttp's reverse-HTTP reporter against /onebot."""

    def __init__(self, client, secret: str | None = SECRET) -> None:
        self.client = client
        self.secret = secret
        self.next_id = 1000

    def message_id(self) -> int:
        self.next_id += 1
        return self.next_id

    async def post(
        self,
        payload: Any,
        *,
        body: bytes | None = None,
        signature: str | None = None,
        sign_it: bool = True,
        self_id: Any = SELF_ID,
        extra_headers: dict[str, str] | None = None,
    ):
        raw = go_json(payload) if body is None else body
        headers = {"Content-Type": "application/json", "User-Agent": "CQHttp/4.15.0"}
        if self_id is not None:
            headers["X-Self-ID"] = str(self_id)
        if signature is not None:
            headers["X-Signature"] = signature
        elif sign_it and self.secret:
            headers["X-Signature"] = sign(raw, self.secret)
        headers.update(extra_headers or {})
        return await self.client.post("/onebot", data=raw, headers=headers)

    async def send(self, payload: dict[str, Any], **kw: Any) -> dict[str, Any] | None:
        """The quick operation the bot answered with, or None for 204."""
        resp = await self.post(payload, **kw)
        if resp.status == 204:
            assert await resp.read() == b""
            return None
        assert resp.status == 200, (resp.status, await resp.text())
        assert resp.content_type == "application/json"
        return json.loads(await resp.read())

    # -- payloads like the samples ----------------------------------------
    def private(self, message: Any, user: int = USER, **fields: Any) -> dict[str, Any]:
        return self._like("private_message", message, user, fields)

    def group(self, message: Any, user: int = USER, **fields: Any) -> dict[str, Any]:
        return self._like("group_message", message, user, fields)

    def _like(self, name: str, message: Any, user: int, fields: dict[str, Any]) -> dict[str, Any]:
        p = sample(name)
        p.update(message_id=self.message_id(), user_id=user, message=message)
        p["raw_message"] = message if isinstance(message, str) else ""
        p["sender"]["user_id"] = user
        p.update(fields)
        return p


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": t}}


def at(qq: Any) -> dict[str, Any]:
    return {"type": "at", "data": {"qq": str(qq)}}


def op(reply: str, at_sender: bool = False) -> dict[str, Any]:
    return {"reply": reply, "at_sender": at_sender, "auto_escape": True}


async def grant_officer(client, user_id: str, org_code: str) -> None:
    identity = client.server.app[RUNTIME].identity
    person = await identity.ensure_person("onebot", user_id, "小不点")
    await identity.grant(person, "officer", await Organization.get(code=org_code), "test")
