"""Text is cleaned once, where the Inbound is built; private numbers are masked in what
others read. Pure rules, no database."""

from __future__ import annotations

from bot.inbound import Inbound
from bot.registry import Arg, Command
from bot.text import mask_private

HOSTILE = "a\x00b\ud800c\udfffd\u202ee\u2066f\u2069g\u202ah"


def test_inbound_drops_nul_lone_surrogates_and_bidi_controls_everywhere():
    inb = Inbound(
        platform="onebot",
        user_id="12\x003",
        chat_id="g\u202e1",
        text=HOSTILE,
        display_name="张\u202e三\x00",
        event_id="e\ud8001",
        extra={"key": "报到\u2067"},
    )
    assert inb.text == "abcdefgh"
    assert (inb.user_id, inb.chat_id, inb.display_name, inb.event_id) == ("123", "g1", "张三", "e1")
    assert inb.extra == {"key": "报到"}
    # what is left can be written out again (a lone surrogate could not)
    inb.text.encode("utf-8")
    # ordinary text is left exactly as typed: emoji (a surrogate *pair* in UTF-16), RTL words
    ok = Inbound("console", "bob", "bob", text="路灯坏了 😀 שלום ，请修")
    assert ok.text == "路灯坏了 😀 שלום ，请修"


def test_over_long_ids_are_not_people():
    assert not Inbound("wechat", "o" * 30_000, "x").ids_ok
    assert not Inbound("onebot", "9" * 4000, "1").ids_ok
    assert not Inbound("onebot", "\x00", "1").ids_ok  # nothing left of it
    assert Inbound("onebot", "10001", "20001").ids_ok
    assert len(Inbound("onebot", "1", "1", display_name="长" * 500).display_name) == 64


def test_mask_private_masks_valid_id_cards_and_mobiles_only():
    text = "身份证11010519491231002X，电话138 1234 1234，订单110105194912310021，座机02112345678"
    assert mask_private(text) == (
        "身份证1101**********002X，电话138****1234，订单110105194912310021，座机02112345678"
    )
    assert mask_private("11010519491231002x") == "1101**********002x"


def test_arguments_are_bounded_where_declared():
    page = Arg("page", required=False)
    assert page.accepts("12") and page.accepts("#999999999")
    assert not page.accepts("9" * 10) and not page.accepts("9" * 5000)
    assert not Arg("code").accepts("x" * 65)
    content = Arg("content", rest=True)
    assert content.accepts("x" * 2000) and not content.accepts("x" * 2001)
    assert content.accepts("13800001234") and not content.accepts("1" * 19)
    assert Arg("query", max_digits=18).accepts("110105194912310021")
    purpose = Arg("purpose", required=False, choices=("工作群", "work"))
    assert purpose.accepts("工作群") and purpose.accepts("WORK") and not purpose.accepts("x")

    async def noop(ctx):  # pragma: no cover - never run
        return None

    cmd = Command("x", ("x",), noop, args=(Arg("number"), Arg("note", rest=True)))
    assert cmd.args_ok(["12", "好"]) and not cmd.args_ok(["1" * 30, "好"])


def test_log_lines_mask_phones_and_id_cards(caplog):
    """Whatever a log line quotes (an event line, a traceback's message) is masked."""
    import logging

    from bot.logs import _MaskingFormatter, log_event

    formatter = _MaskingFormatter("%(name)s %(message)s")
    record = logging.LogRecord(
        "lianxin.dispatcher",
        logging.ERROR,
        "",
        0,
        "内容：%s",
        ("电话13812341234 11010519491231002X",),
        None,
    )
    line = formatter.format(record)
    assert line == "lianxin.dispatcher 内容：电话138****1234 1101**********002X"
    caplog.set_level(logging.INFO, logger="lianxin.event")
    log_event(platform="console", text="找我13812341234")
    assert caplog.records[-1].getMessage() == '{"platform": "console", "text": "找我138****1234"}'
