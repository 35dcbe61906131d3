"""微信公众号与企业微信回调的“线上格式”：签名、XML 加固与解析、加密信封、被动回复的 XML。

Protocol: shared/protocols.md §1 (WeChat Official Account) and §2 (WeCom, the AES scheme
of §1.5). Pure functions over bytes and strings; the channel that uses them (the passive
reply, the late-reply machinery) is bot/channels/tencent.py.

* `sha1_signature`, `signature_matches`, `check_signature`: the SHA-1 over the
  sorted (token, timestamp, nonce[, Encrypt / echostr]) and its constant-time check;
* `declares_dtd`, `parse_xml`: a body is refused before any parser sees a
  DOCTYPE or ENTITY declaration, then parsed by expat with defusedxml's guards
  (a DTD, an entity declaration or an external reference is refused) into its
  top-level fields;
* `open_envelope`: the message inside an encrypted ``<Encrypt>`` body;
* `cdata`, `text_reply_xml`: the passive text reply;
* `Refused`: how a check says "reject this request with this status and reason".
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.parsers import expat

from bot.inbound import Inbound, Reply

# Passive text replies (and the platforms' text messages) are cut at 2048 bytes of UTF-8.
MAX_TEXT_BYTES = 2048

# Characters XML 1.0 does not allow in a document.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(slots=True)
class Accepted:
    """A request that passed every check, and what its reply needs."""

    inbound: Inbound
    account: str  # the inbound ToUserName (our account / CorpID): the reply's FromUserName
    nonce: str
    encrypted: bool


class Refused(Exception):
    """The request is rejected with ``status``, counted by ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# -- signatures -----------------------------------------------------------------


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison; ``given`` may carry upper case and surrounding space."""
    return hmac.compare_digest(expected.encode("utf-8"), given.strip().lower().encode("utf-8"))


def check_signature(signature: str, token: str, *parts: str) -> str:
    """The expected signature over (token, *parts); Refused 403 when ``signature``
    is missing or is not it."""
    if not signature:
        raise Refused(403, "missing_signature")
    expected = sha1_signature(token, *parts)
    if not signature_matches(expected, signature):
        raise Refused(403, "bad_signature")
    return expected


def query_timestamp(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Refused(400, "bad_timestamp") from None


# -- XML ------------------------------------------------------------------------


def declares_dtd(body: bytes) -> bool:
    """True when the body has a <!DOCTYPE or <!ENTITY outside CDATA sections.

    A linear scan, so that a body full of unterminated CDATA openers costs no
    more than one pass. Text a user typed (always inside CDATA) may contain
    "<!DOCTYPE" and is not refused for it.
    """
    pos = 0
    while True:
        i = body.find(b"<!", pos)
        if i < 0:
            return False
        if body.startswith(b"<![CDATA[", i):
            end = body.find(b"]]>", i + 9)
            if end < 0:
                # Unterminated CDATA: malformed; the (DTD-forbidding) parser refuses it.
                return False
            pos = end + 3
            continue
        word = body[i + 2 : i + 9].upper()
        if word.startswith((b"DOCTYPE", b"ENTITY")):
            return True
        pos = i + 2


def parse_xml(body: bytes) -> tuple[str, dict[str, str]]:
    """The body as text and its top-level fields; DTDs refused before parsing."""
    if not body.strip():
        raise Refused(400, "empty_body")
    if declares_dtd(body):
        raise Refused(400, "dtd_forbidden")
    try:
        text = body.decode("utf-8")  # WeChat and WeCom always send UTF-8
    except UnicodeDecodeError:
        raise Refused(400, "bad_encoding") from None
    fields = _plain_fields(text)
    return text, _top_fields(text) if fields is None else fields


# The shape every platform sends: <xml> and leaf children, each one CDATA section or plain
# text with no markup, entity, "]" or character XML rewrites or refuses (\r, controls).
# Read with one regex for that shape only (a third of expat's cost with its callbacks in
# Python, twice per safe-mode message); anything else goes to expat. Same fields either
# way: tests/unit/test_tencent_xml.py compares both on generated bodies.
_ROOT = re.compile(r"[ \t\n]*<xml>(.*)</xml>[ \t\n]*", re.DOTALL)
_LEAF = re.compile(
    r"[ \t\n]*<([A-Za-z_][A-Za-z0-9_]*)>"
    r"(?:<!\[CDATA\[([^\]\x00-\x08\x0b-\x1f\ufffe\uffff]*"
    r"(?:\](?!\]>)[^\]\x00-\x08\x0b-\x1f\ufffe\uffff]*)*)\]\]>"
    r"|([^<&\]\x00-\x08\x0b-\x1f\ufffe\uffff]*))</\1>"
)
_TAIL = re.compile(r"[ \t\n]*")


def _plain_fields(text: str) -> dict[str, str] | None:
    """`_top_fields` of a body of the usual shape; None for any other body."""
    root = _ROOT.fullmatch(text)
    if root is None:
        return None
    inner, pos, end = root.group(1), 0, len(root.group(1))
    fields: dict[str, str] = {}
    while pos < end:
        leaf = _LEAF.match(inner, pos)
        if leaf is None:
            return None if _TAIL.fullmatch(inner, pos) is None else fields
        name, cdata_text, plain = leaf.groups()
        if name in fields:
            return None  # expat's path refuses it
        fields[name] = (plain if cdata_text is None else cdata_text).strip()
        pos = leaf.end()
    return fields


class _Forbidden(Exception):
    """A DTD, an entity declaration or an external reference reached the parser."""


def _forbid(*_: Any) -> Any:
    raise _Forbidden


def _top_fields(text: str) -> dict[str, str]:
    """``{tag: text}`` of the root's children (a child with children of its own: "").

    expat directly, with defusedxml's guards (a DOCTYPE, an entity declaration or an
    external entity reference raises) and ElementTree's reading of names and text, but
    without building a tree in Python: defusedxml's pure-Python parser cost more than
    the rest of a WeChat request's checks together (issue #15).
    """
    parser = expat.ParserCreate(None, "}")  # namespaces as ElementTree reads them
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    fields: dict[str, str] = {}
    depth = 0
    root_ok = True
    tag = ""
    data: list[str] = []
    leaf = True

    def start(name: str, _attrs: object) -> None:
        nonlocal depth, root_ok, tag, leaf
        depth += 1
        if "}" in name:
            name = "{" + name
        if depth == 1:
            root_ok = name == "xml"
        elif depth == 2:
            if name in fields:
                # wechatpy would see a list; the platforms never repeat a top-level field.
                raise Refused(400, "bad_xml")
            fields[name] = ""
            tag, leaf = name, True
            data.clear()
        else:
            leaf = False

    def end(_name: str) -> None:
        nonlocal depth
        if depth == 2 and leaf:
            fields[tag] = "".join(data).strip()
        depth -= 1

    def chars(chunk: str) -> None:
        if depth == 2:
            data.append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except _Forbidden:
        raise Refused(400, "dtd_forbidden") from None
    except expat.ExpatError:
        raise Refused(400, "bad_xml") from None
    if not root_ok:
        raise Refused(400, "bad_xml")
    return fields


def decrypt_envelope(
    crypto: Any,
    token: str,
    encrypt: str,
    timestamp: str,
    nonce: str,
    signature: str,
    *,
    check_fresh: Callable[[], None],
    refusals: Mapping[type[Exception], tuple[int, str]],
) -> str:
    """The plaintext of an encrypted envelope (protocols.md §1.5), checked in order.

    ``signature`` must be the one over ``encrypt`` (403 otherwise), then
    ``check_fresh`` (the replay check) runs, then ``crypto`` (a wechatpy
    ``WeChatCrypto``) decrypts. A decryption error is refused as ``refusals``
    says for its type (a wrong appid or CorpID), any other one with 400
    ``bad_encrypt``. Also the WeCom smart robot's JSON callbacks (empty receive id).
    """
    if not encrypt:
        raise Refused(400, "missing_encrypt")
    expected = check_signature(signature, token, timestamp, nonce, encrypt)
    check_fresh()
    try:
        plain: str = crypto.decrypt_message({"Encrypt": encrypt}, expected, timestamp, nonce)
        return plain
    except Exception as exc:
        raise _refusal(exc, refusals, "bad_encrypt") from None


def _refusal(
    exc: Exception, refusals: Mapping[type[Exception], tuple[int, str]], reason: str
) -> Refused:
    """How a decryption error is refused: as ``refusals`` says for its type, else 400."""
    for kind, (status, why) in refusals.items():
        if isinstance(exc, kind):
            return Refused(status, why)
    return Refused(400, reason)


def open_envelope(
    crypto: Any,
    token: str,
    outer: Mapping[str, str],
    timestamp: str,
    nonce: str,
    signature: str,
    *,
    check_fresh: Callable[[], None],
    refusals: Mapping[type[Exception], tuple[int, str]],
) -> tuple[str, dict[str, str]]:
    """The message inside an encrypted XML body (``outer`` are its fields), parsed
    like a body; the checks are `decrypt_envelope`'s."""
    plain = decrypt_envelope(
        crypto,
        token,
        outer.get("Encrypt", "").strip(),
        timestamp,
        nonce,
        signature,
        check_fresh=check_fresh,
        refusals=refusals,
    )
    return parse_xml(plain.encode("utf-8"))


def verify_echostr(
    crypto: Any,
    token: str,
    query: Mapping[str, str],
    *,
    check_fresh: Callable[[int], None],
    refusals: Mapping[type[Exception], tuple[int, str]],
) -> str:
    """WeCom's URL verification (GET): the decrypted echostr, or Refused.

    ``msg_signature = sha1(sorted(token, timestamp, nonce, echostr))``; missing
    parameters → 400, a bad signature → 403, ``check_fresh(timestamp)`` (the
    replay check), then the echostr is decrypted (errors as in `decrypt_envelope`).
    """
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    # Base64 has no spaces: a space is a "+" that came without percent-encoding.
    echostr = query.get("echostr", "").replace(" ", "+")
    if not timestamp or not nonce or not echostr:
        raise Refused(400, "missing_params")
    ts = query_timestamp(timestamp)
    expected = check_signature(query.get("msg_signature", ""), token, timestamp, nonce, echostr)
    check_fresh(ts)
    try:
        echo: str = crypto.check_signature(expected, timestamp, nonce, echostr)
        return echo
    except Exception as exc:
        raise _refusal(exc, refusals, "bad_echostr") from None


def cdata(text: str) -> str:
    """A CDATA section for any text: "]]>" is split across two sections."""
    clean = _XML_INVALID.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply_xml(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """Passive text reply (protocols.md §1.4, vector wechat_reply_text.xml)."""
    return (
        "<xml>"
        f"<ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(content)}</Content>"
        "</xml>"
    )


def reply_text(replies: list[Reply]) -> str:
    """The replies as one text, blank ones left out."""
    return "\n\n".join(r.text for r in replies if r.text.strip())
