"""Signed request builders and reply checkers for the benchmark.

Everything here is built from protocols.md (§1 WeChat, §3 OneBot) with hashlib,
hmac and `cryptography` directly, not with wechatpy, so the smoke test that feeds
these requests to the wechatpy reference handler checks two implementations
against each other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# protocols.md: the Tencent WXBizMsgCrypt MP sample credentials.
WECHAT_TOKEN = "spamtest"
WECHAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APPID = "wx2c2769f8efd9abc2"
WECHAT_ACCOUNT = "gh_bench0000001"
ONEBOT_SECRET = "bench-onebot-secret"
ONEBOT_SELF_ID = 10001000

USERS = 2000  # distinct openids / QQ numbers, cycling
GROUPS = 50  # distinct QQ groups
COMMANDS = ("/帮助", "/我")
# What a correct reply to each command contains.
NEEDLES = {"/帮助": "连心 · 可用命令", "/我": "平台身份"}

_AES_KEY = base64.b64decode(WECHAT_AES_KEY + "=")


@dataclass(slots=True)
class Request:
    path: str  # path and query, e.g. /wechat?signature=…
    body: bytes
    headers: dict[str, str]
    user: str  # openid or QQ number, as it must come back in the reply
    command: str


# -- WeChat ----------------------------------------------------------------


def wechat_sign(*parts: str) -> str:
    """sha1 of the sorted, concatenated parts (signature and msg_signature)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def aes_encrypt(plain: bytes, appid: str = WECHAT_APPID) -> str:
    """random(16) + len (4, big-endian) + msg + appid, PKCS#7 to 32, AES-256-CBC."""
    data = secrets.token_hex(8).encode() + struct.pack(">I", len(plain)) + plain + appid.encode()
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(_AES_KEY), modes.CBC(_AES_KEY[:16])).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode()


def aes_decrypt(encrypt: str, appid: str = WECHAT_APPID) -> bytes:
    dec = Cipher(algorithms.AES(_AES_KEY), modes.CBC(_AES_KEY[:16])).decryptor()
    data = dec.update(base64.b64decode(encrypt)) + dec.finalize()
    pad = data[-1]
    if not 1 <= pad <= 32:
        raise ValueError("bad padding")
    data = data[16:-pad]
    (length,) = struct.unpack(">I", data[:4])
    if data[4 + length :].decode() != appid:
        raise ValueError("appid mismatch")
    return data[4 : 4 + length]


def wechat_text_xml(openid: str, content: str, msg_id: int, now: int) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{WECHAT_ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    ).encode()


def openid(n: int) -> str:
    return f"oBench{n % USERS:022d}"  # 28 characters, like a real OpenID


def wechat_request(seq: int, *, safe: bool, path: str = "/wechat") -> Request:
    """Message number `seq` (its MsgId): plain, or safe mode (encrypt_type=aes)."""
    user = openid(seq)
    command = COMMANDS[(seq + seq // USERS) % 2]  # every user gets both commands
    now = int(time.time())
    timestamp, nonce = str(now), str(100_000_000 + seq)
    plain = wechat_text_xml(user, command, msg_id=seq, now=now)
    query = {
        "signature": wechat_sign(WECHAT_TOKEN, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": user,
    }
    body = plain
    if safe:
        encrypt = aes_encrypt(plain)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = wechat_sign(WECHAT_TOKEN, timestamp, nonce, encrypt)
        body = (
            f"<xml><ToUserName><![CDATA[{WECHAT_ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()
    headers = {"Content-Type": "text/xml"}
    return Request(f"{path}?{urlencode(query)}", body, headers, user, command)


def check_wechat_reply(req: Request, status: int, body: bytes, *, safe: bool) -> str | None:
    """None when the reply is a correct passive text reply, else what is wrong."""
    if status != 200:
        return f"status {status}"
    try:
        root = ElementTree.fromstring(body)
        if safe:
            encrypt = root.findtext("Encrypt") or ""
            signature = root.findtext("MsgSignature") or ""
            parts = (root.findtext("TimeStamp") or "", root.findtext("Nonce") or "")
            if wechat_sign(WECHAT_TOKEN, *parts, encrypt) != signature:
                return "bad MsgSignature"
            root = ElementTree.fromstring(aes_decrypt(encrypt))
    except (ElementTree.ParseError, ValueError, UnicodeDecodeError) as exc:
        return f"unreadable reply ({exc})"
    if root.findtext("ToUserName") != req.user or root.findtext("MsgType") != "text":
        return "wrong ToUserName/MsgType"
    return _check_text(req, root.findtext("Content") or "")


# -- OneBot ----------------------------------------------------------------


def qq(n: int) -> int:
    return 200_000_000 + n % USERS


def onebot_request(seq: int, *, path: str = "/onebot") -> Request:
    """A signed OneBot v11 group message (string format) with message_id `seq`."""
    user = qq(seq)
    command = COMMANDS[(seq + seq // USERS) % 2]
    event = {
        "time": int(time.time()),
        "self_id": ONEBOT_SELF_ID,
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": seq,
        "group_id": 600_000_000 + seq % GROUPS,
        "user_id": user,
        "anonymous": None,
        "message": command,
        "raw_message": command,
        "font": 0,
        "sender": {"user_id": user, "nickname": f"用户{user}", "card": "", "role": "member"},
    }
    body = json.dumps(event, ensure_ascii=False).encode()
    return Request(path, body, onebot_headers(body), str(user), command)


def onebot_headers(body: bytes) -> dict[str, str]:
    """The headers of a OneBot v11 HTTP POST signed with the bench's secret."""
    signature = hmac.new(ONEBOT_SECRET.encode(), body, hashlib.sha1).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Self-ID": str(ONEBOT_SELF_ID),
        "X-Signature": f"sha1={signature}",
    }


def check_onebot_reply(req: Request, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"status {status}"
    try:
        reply: Any = json.loads(body)["reply"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"no quick-operation reply ({exc!r})"
    if isinstance(reply, list):  # message segments
        reply = "".join(s.get("data", {}).get("text", "") for s in reply if s.get("type") == "text")
    return _check_text(req, str(reply))


def _check_text(req: Request, text: str) -> str | None:
    if NEEDLES[req.command] not in text:
        return f"{req.command}: reply lacks {NEEDLES[req.command]!r}"
    if req.command == "/我" and req.user not in text:
        return "/我: reply lacks the user id"
    return None


# -- the fixed reply of the bare aiohttp reference ---------------------------

BARE_REPLY = json.dumps({"reply": "连心 · 可用命令"}, ensure_ascii=False).encode()


def check_bare_reply(req: Request, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"status {status}"
    return None if body == BARE_REPLY else "unexpected body"
