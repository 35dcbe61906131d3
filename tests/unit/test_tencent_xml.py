"""parse_xml's regex reading of the usual body shape against expat's (no database).

`_plain_fields` may decline any body (None: expat reads it); when it answers, the fields
must be exactly what expat's `_top_fields` gives, and expat must accept the body.
"""

from __future__ import annotations

import random

import pytest

from bot.channels.tencent_wire import Refused, _plain_fields, _top_fields, parse_xml

USUAL = [
    "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oU]]></FromUserName>"
    "<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[/帮助 ] > &]]></Content><MsgId>1234567890123456</MsgId></xml>",
    "<xml>\n  <ToUserName><![CDATA[gh]]></ToUserName>\n"
    "  <Encrypt><![CDATA[a+b/c==]]></Encrypt>\n</xml>\n",
    "<xml><Content><![CDATA[a]]]></Content><Empty></Empty><Blank><![CDATA[]]></Blank></xml>",
    "<xml></xml>",
]

# Pieces that are fine, that XML rewrites (\r, entities), that it refuses (controls,
# U+FFFE, "]]>" in text, unclosed or crossed tags) or that take expat's path (attributes,
# namespaces, nesting, comments, a declaration, two sections in one field).
PIECES = [
    "a",
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "连心",
    "🎉",
    "]",
    "]]",
    "]]>",
    ">",
    "<",
    "&",
    "&amp;",
    "&#65;",
    "\x01",
    "\x0b",
    "\ufffe",
    "\x85",
    "\u00a0",
    "<![CDATA[",
    "<![CDATA[x]]>",
    "<b>",
    "</b>",
    "<b/>",
    "<!-- c -->",
    "<?pi x?>",
    '<?xml version="1.0"?>',
    "<x:y>",
    "</x:y>",
    ' a="1"',
    "</xml>",
    "<xml>",
]


def _field(rng: random.Random) -> str:
    name = rng.choice(["A", "Content", "MsgId", "A", "x_1", "x:y", "1a", "xml"])
    body = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.6:
        body = f"<![CDATA[{body}]]>"
    gap = rng.choice(["", "", " ", "\n", "\r\n", "\x0c"])
    return f"{gap}<{name}>{body}</{name}>"


def _body(rng: random.Random) -> str:
    inner = "".join(_field(rng) for _ in range(rng.randint(0, 4)))
    head = rng.choice(["", "", " ", "\n", "\ufeff", '<?xml version="1.0"?>'])
    tail = rng.choice(["", "", "\n", " x", "<xml/>"])
    root = rng.choice(["xml", "xml", "xml", "Xml"])
    return f"{head}<{root}>{inner}</{root}>{tail}"


def _expat(text: str) -> dict[str, str] | None:
    try:
        return _top_fields(text)
    except Refused:
        return None


@pytest.mark.parametrize("text", USUAL)
def test_the_usual_shape_is_read_without_expat_and_alike(text: str) -> None:
    assert _plain_fields(text) is not None
    assert _plain_fields(text) == _top_fields(text)


def test_generated_bodies_read_alike_or_go_to_expat() -> None:
    rng = random.Random(15)
    answered = 0
    for _ in range(20_000):
        text = _body(rng)
        fast = _plain_fields(text)
        if fast is not None:
            answered += 1
            assert fast == _expat(text), repr(text)
    assert answered > 1_000  # the generator does reach the regex's shape


def test_parse_xml_refuses_as_before() -> None:
    for body, reason in [
        (b"<xml><A>1</A><A>2</A></xml>", "bad_xml"),  # a repeated field
        (b"<xml><A>\x01</A></xml>", "bad_xml"),
        (b"<root><A>1</A></root>", "bad_xml"),
        (b"<xml><A>]]></A></xml>", "bad_xml"),
    ]:
        with pytest.raises(Refused) as refused:
            parse_xml(body)
        assert refused.value.reason == reason
