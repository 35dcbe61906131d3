"""A refusal whose code no template knows (a defect) still reads as a sentence, never the
raw code (#16: no reply shows English or a raw code); the log names it."""

from __future__ import annotations

import logging

from bot.refusals import Refusals
from bot.templates import Templates


def test_an_unknown_code_reads_as_a_plain_sentence(caplog):
    refusals = Refusals(Templates(), {"requests": "refused/requests"})
    with caplog.at_level(logging.WARNING, logger="lianxin.refusals"):
        text = refusals.text("no_such_code", {}, "requests")
    assert text == "这个操作没有执行。请换个说法再试，或联系党务工作者。"
    assert "no_such_code" not in text
    assert "'no_such_code' has no text" in caplog.text


def test_a_known_code_finds_its_services_text_first():
    refusals = Refusals(Templates(), {"requests": "refused/requests"})
    assert refusals.text("unknown_org", {"org_code": "X9"}).startswith("没有找到组织代码“X9”")
