"""OneBot v11 消息格式：CQ 码字符串与消息段数组之间的转换和转义（纯函数）。

Source: botuniverse/onebot-11 ``message/string.md`` (转义), ``message/array.md``,
``message/segment.md``; nonebot/adapter-onebot ``v11/utils.py`` (unescape order).

* In plain text ``&`` → ``&amp;``, ``[`` → ``&#91;``, ``]`` → ``&#93;``.
* Inside a CQ code's parameter values ``,`` → ``&#44;`` as well.
* Unescaping replaces ``&amp;`` last, so ``&amp;#91;`` comes back as the text ``&#91;``.
* ``[CQ:type,key=value,...]``: the type ends at the first ``,`` or ``]``; parameters
  are split on ``,`` and each at its *first* ``=`` (values may contain ``=``).

A segment is a dict ``{"type": str, "data": {str: str}}`` exactly as OneBot's
array format has it. Nothing here compiles a regex or touches I/O: the parser is
a single left-to-right scan with ``str.find``.
"""

from __future__ import annotations

from typing import Any

Segment = dict[str, Any]

_CQ_OPEN = "[CQ:"


def escape(text: str, *, escape_comma: bool = False) -> str:
    """Escape text for a CQ string; ``escape_comma`` for a CQ parameter value."""
    text = text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    if escape_comma:
        text = text.replace(",", "&#44;")
    return text


def unescape(text: str) -> str:
    """Undo `escape` (both kinds); ``&amp;`` goes last."""
    if "&" not in text:
        return text
    return (
        text.replace("&#44;", ",").replace("&#91;", "[").replace("&#93;", "]").replace("&amp;", "&")
    )


def text_segment(text: str) -> Segment:
    return {"type": "text", "data": {"text": text}}


def parse_cq_code(code: str) -> Segment | None:
    """One ``[CQ:type,k=v,...]`` (brackets included) → a segment; None if it is not one."""
    if not (code.startswith(_CQ_OPEN) and code.endswith("]")):
        return None
    return _parse_body(code[len(_CQ_OPEN) : -1])


def _parse_body(body: str) -> Segment | None:
    """``type,k=v,...`` (between "[CQ:" and "]") → a segment; None when malformed."""
    kind, _, params = body.partition(",")
    if not kind:
        return None
    data: dict[str, str] = {}
    if params:
        for param in params.split(","):
            if not param:  # "[CQ:face,id=1,]": a stray comma
                continue
            key, eq, value = param.partition("=")
            if not eq or not key:
                return None
            data[key] = unescape(value)
    return {"type": kind, "data": data}


def parse_cq_string(message: str) -> list[Segment]:
    """A CQ-code string → the array form (text segments unescaped, adjacent text merged).

    Anything that does not read as a CQ code (an unclosed ``[CQ:``, a parameter
    without ``=``) is kept as text rather than failing.
    """
    segments: list[Segment] = []
    pos = 0
    n = len(message)
    pending = ""  # escaped text waiting for the next code or the end
    while pos < n:
        start = message.find(_CQ_OPEN, pos)
        if start == -1:
            pending += message[pos:]
            break
        end = message.find("]", start)
        if end == -1:
            pending += message[pos:]
            break
        segment = _parse_body(message[start + len(_CQ_OPEN) : end])
        if segment is None:
            # Not a code: keep "[CQ:" as text and look for the next one after it.
            pending += message[pos : start + len(_CQ_OPEN)]
            pos = start + len(_CQ_OPEN)
            continue
        pending += message[pos:start]
        if pending:
            segments.append(text_segment(unescape(pending)))
            pending = ""
        segments.append(segment)
        pos = end + 1
    if pending:
        segments.append(text_segment(unescape(pending)))
    return segments


def cq_code(kind: str, data: dict[str, Any] | None = None) -> str:
    """A segment's CQ code: ``cq_code("at", {"qq": "123"})`` → ``[CQ:at,qq=123]``."""
    if not data:
        return f"[CQ:{kind}]"
    params = ",".join(
        f"{key}={escape(_value(value), escape_comma=True)}"
        for key, value in data.items()
        if value is not None
    )
    return f"[CQ:{kind},{params}]" if params else f"[CQ:{kind}]"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_cq_string(segments: list[Segment]) -> str:
    """The array form → a CQ-code string (text escaped, parameter values comma-escaped)."""
    parts = []
    for seg in segments:
        kind = seg.get("type")
        data = seg.get("data") or {}
        if kind == "text":
            parts.append(escape(str(data.get("text", ""))))
        else:
            parts.append(cq_code(str(kind), data))
    return "".join(parts)


def as_segments(message: Any) -> list[Segment]:
    """A OneBot ``message`` field in either format → segments (junk entries dropped).

    Strings are parsed as CQ codes; lists are taken as segments, keeping only
    entries shaped like ``{"type": str, "data": dict}`` (``data`` may be missing).
    """
    if isinstance(message, str):
        return parse_cq_string(message)
    if not isinstance(message, list):
        return []
    out: list[Segment] = []
    for seg in message:
        if not isinstance(seg, dict):
            continue
        kind = seg.get("type")
        if not isinstance(kind, str):
            continue
        data = seg.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            continue
        out.append(seg if seg.get("data") is data else {"type": kind, "data": data})
    return out
