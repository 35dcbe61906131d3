"""What phone keyboards produce, and byte limits."""

from __future__ import annotations

import pytest

from bot.text import (
    mask_phones,
    shorten,
    split_command,
    split_for_limit,
    split_glued,
    tokenize,
    utf8_len,
)


@pytest.mark.parametrize(
    ("typed", "word", "rest"),
    [
        ("/帮助", "帮助", ""),
        ("／帮助", "帮助", ""),
        ("、帮助", "帮助", ""),
        ("　／帮助　绑定　", "帮助", "绑定"),
        ("@连心 /我", "我", ""),
        ("@连心\u2005@小王 /我", "我", ""),
        ("/HELP", "help", ""),
        ("/绑定：SQ001", "绑定", "SQ001"),
        ("/诉求 路灯坏了，请尽快修", "诉求", "路灯坏了，请尽快修"),
        ("/", "", ""),
    ],
)
def test_split_command(typed, word, rest):
    parsed = split_command(typed)
    assert parsed is not None
    assert (parsed.word, parsed.rest) == (word, rest)


@pytest.mark.parametrize("typed", ["你好", "", "   ", "@连心 你好", "帮助 /我"])
def test_not_a_command(typed):
    assert split_command(typed) is None


def test_glued_longest_name_wins():
    names = sorted(["取消", "取消报名", "报名"], key=len, reverse=True)
    assert split_glued("取消报名3", names) == ("取消报名", "3")
    assert split_glued("取消", names) is None


@pytest.mark.parametrize(
    ("rest", "tokens"),
    [
        ("a b  c", ["a", "b", "c"]),
        ('"和平 社区" 3', ["和平 社区", "3"]),
        ("“和平 社区” 3", ["和平 社区", "3"]),
        ("「第一 支部」", ["第一 支部"]),
        ("ＳＱ００１　３", ["SQ001", "3"]),
        ('"没有结束', ["没有结束"]),
        ("", []),
    ],
)
def test_tokenize(rest, tokens):
    assert tokenize(rest) == tokens


def test_shorten_never_breaks_a_character():
    text = "党" * 1000  # 3 bytes each
    out = shorten(text, 2048)
    assert utf8_len(out) <= 2048
    assert out.endswith("…")
    assert shorten("短", 2048) == "短"


def test_split_for_limit_on_lines():
    text = "\n".join(f"第{i}行" + "字" * 50 for i in range(100))
    parts = split_for_limit(text, 2048)
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert "\n".join(parts) == text
    long_line = "字" * 2000
    assert "".join(split_for_limit(long_line, 2048)) == long_line


def test_mask_phones():
    assert mask_phones("电话 13812341234，座机 02112345678") == "电话 138****1234，座机 02112345678"
    assert mask_phones("编号 2138123412345") == "编号 2138123412345"
