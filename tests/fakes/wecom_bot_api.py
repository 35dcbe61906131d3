"""The WeCom smart robot platform (企业微信智能机器人, API mode) calling the bot, for tests.

Built from developer.work.weixin.qq.com paths 100719 (callbacks), 101031
(passive replies), 101033 (the JSON crypto) — shared/protocols.md, "WeCom smart
robot" — with the independent crypto of tests/tencent_crypto.py (receive id
""), never the bot's own code:

* ``verify(client, echostr)``: the URL verification GET; returns (status, body).
* ``send(client, message)``: POSTs ``{"encrypt"}`` with ``msg_signature``,
  ``timestamp``, ``nonce``; the answer is checked like the platform would (JSON
  ``{"encrypt", "msgsignature", "timestamp", "nonce"}``, the signature over it,
  our nonce echoed, receive id "") and returned decrypted (None for an empty
  body). ``answers`` records every decrypted answer, ``statuses`` every status.
* ``say(client, text, user=…, chat=…)``: a text message (in a group with the
  "@机器人" in front, as the platform delivers it), then the stream refresh
  callbacks while ``finish`` is false (at most ``max_refreshes``, ``refresh_every``
  seconds apart); returns the final stream content.
* Builders: ``text_message``, ``voice_message``, ``mixed_message``,
  ``image_message``, ``enter_chat``, ``stream_refresh``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from typing import Any

from tests.tencent_crypto import decrypt, encrypt, sha1_signature

ROBOT_NAME = "连心"


class FakeWecomBot:
    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        *,
        aibotid: str = "AIBOTID",
        path: str = "/wecom-bot",
        max_refreshes: int = 40,
        refresh_every: float = 0.1,
    ) -> None:
        self.token = token
        self.key = encoding_aes_key
        self.aibotid = aibotid
        self.path = path
        self.max_refreshes = max_refreshes
        self.refresh_every = refresh_every
        self.answers: list[dict[str, Any] | None] = []
        self.statuses: list[int] = []
        self._ids = itertools.count(1)

    # -- messages ---------------------------------------------------------------

    def _base(self, msgtype: str, user: str, chat: str | None) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "msgid": f"CAIQ{next(self._ids):08d}{secrets.token_hex(4)}",
            "aibotid": self.aibotid,
            "chattype": "group" if chat else "single",
            "from": {"userid": user},
            "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=x",
            "msgtype": msgtype,
        }
        if chat:
            msg["chatid"] = chat
        return msg

    def text_message(self, text: str, *, user: str, chat: str | None = None) -> dict[str, Any]:
        msg = self._base("text", user, chat)
        msg["text"] = {"content": f"@{ROBOT_NAME} {text}" if chat else text}
        return msg

    def voice_message(self, said: str, *, user: str, chat: str | None = None) -> dict[str, Any]:
        msg = self._base("voice", user, chat)
        msg["voice"] = {"content": said}
        return msg

    def mixed_message(self, text: str, *, user: str, chat: str | None = None) -> dict[str, Any]:
        msg = self._base("mixed", user, chat)
        msg["mixed"] = {
            "msg_item": [
                {"msgtype": "text", "text": {"content": text}},
                {"msgtype": "image", "image": {"url": "https://wework.qpic.cn/x.png"}},
            ]
        }
        return msg

    def image_message(self, *, user: str, chat: str | None = None) -> dict[str, Any]:
        msg = self._base("image", user, chat)
        msg["image"] = {"url": "https://wework.qpic.cn/x.png"}
        return msg

    def enter_chat(self, *, user: str) -> dict[str, Any]:
        msg = self._base("event", user, None)
        msg["create_time"] = int(time.time())
        msg["event"] = {"eventtype": "enter_chat"}
        return msg

    def stream_refresh(self, stream_id: str, *, user: str, chat: str | None = None) -> dict:
        msg = self._base("stream", user, chat)
        msg["stream"] = {"id": stream_id}
        return msg

    # -- calling the bot ----------------------------------------------------------

    def signed_query(self, encrypted: str, *, at: float | None = None) -> dict[str, str]:
        timestamp = str(int(time.time() if at is None else at))
        nonce = secrets.token_hex(8)
        return {
            "msg_signature": sha1_signature(self.token, timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    async def verify(self, client: Any, echostr: str = "echo-1234567890") -> tuple[int, str]:
        encrypted = encrypt(self.key, "", echostr.encode())
        query = {**self.signed_query(encrypted), "echostr": encrypted}
        resp = await client.get(self.path, params=query)
        return resp.status, await resp.text()

    async def post(self, client: Any, body: bytes, query: dict[str, str]) -> Any:
        return await client.post(self.path, params=query, data=body)

    async def send(self, client: Any, message: dict[str, Any]) -> dict[str, Any] | None:
        encrypted = encrypt(self.key, "", json.dumps(message, ensure_ascii=False).encode())
        query = self.signed_query(encrypted)
        resp = await self.post(client, json.dumps({"encrypt": encrypted}).encode(), query)
        self.statuses.append(resp.status)
        assert resp.status == 200, await resp.text()
        raw = await resp.read()
        if not raw:
            self.answers.append(None)
            return None
        envelope = json.loads(raw)
        assert set(envelope) == {"encrypt", "msgsignature", "timestamp", "nonce"}, envelope
        assert envelope["nonce"] == query["nonce"], "the reply must reuse the callback's nonce"
        expected = sha1_signature(
            self.token, str(envelope["timestamp"]), envelope["nonce"], envelope["encrypt"]
        )
        assert envelope["msgsignature"] == expected, "bad msgsignature on the reply"
        _, plain, receive_id = decrypt(self.key, envelope["encrypt"])
        assert receive_id == "", "the smart robot's receive id is empty"
        answer = json.loads(plain)
        self.answers.append(answer)
        return answer

    async def say(self, client: Any, text: str, *, user: str, chat: str | None = None) -> str:
        """A text message and the stream refreshes until it finishes: the final content."""
        answer = await self.send(client, self.text_message(text, user=user, chat=chat))
        return await self.follow(client, answer, user=user, chat=chat)

    async def follow(
        self, client: Any, answer: dict[str, Any] | None, *, user: str, chat: str | None = None
    ) -> str:
        """Refresh a stream answer as the platform does, until finish (bounded)."""
        if answer is None:
            return ""
        assert answer["msgtype"] == "stream", answer
        for _ in range(self.max_refreshes):
            if answer["stream"]["finish"]:
                return answer["stream"].get("content", "")
            await asyncio.sleep(self.refresh_every)
            refresh = self.stream_refresh(answer["stream"]["id"], user=user, chat=chat)
            answer = await self.send(client, refresh)
            assert answer is not None
        raise AssertionError("the stream never finished")
