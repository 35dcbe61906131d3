"""CQ codes: every case of shared/platform-samples/onebot_cq_escape_cases.json, plus round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.cqcode import (
    as_segments,
    cq_code,
    escape,
    parse_cq_code,
    parse_cq_string,
    to_cq_string,
    unescape,
)

SAMPLES = Path(__file__).parent / "samples"  # copies of shared/platform-samples
CASES = json.loads((SAMPLES / "onebot_cq_escape_cases.json").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES["text_escape"], ids=lambda c: c["raw"])
def test_text_escape_cases(case):
    assert escape(case["raw"]) == case["escaped"]
    assert unescape(case["escaped"]) == case["raw"]


@pytest.mark.parametrize("case", CASES["param_escape"], ids=lambda c: c["raw"])
def test_param_escape_cases(case):
    assert escape(case["raw"], escape_comma=True) == case["escaped"]
    assert unescape(case["escaped"]) == case["raw"]


def test_full_cq_parses_and_rebuilds():
    full = CASES["full_cq"]
    title, url = (c["raw"] for c in CASES["param_escape"])
    seg = parse_cq_code(full)
    assert seg == {"type": "share", "data": {"title": title, "url": url}}
    assert cq_code("share", {"title": title, "url": url}) == full
    assert parse_cq_string(full) == [seg]
    assert to_cq_string([seg]) == full


def test_string_to_array():
    case = CASES["string_to_array"]
    assert parse_cq_string(case["string"]) == case["array"]
    assert to_cq_string(case["array"]) == case["string"]


def test_param_with_equals_splits_at_first_equals():
    case = CASES["param_with_equals"]
    seg = parse_cq_code(case["string"])
    assert seg == {"type": case["type"], "data": case["data"]}
    assert parse_cq_string(case["string"]) == [seg]
    assert cq_code(case["type"], case["data"]) == case["string"]


def test_unescape_amp_last():
    # "&amp;#91;" is the escaped form of the literal text "&#91;", not of "[".
    assert unescape("&amp;#91;") == "&#91;"
    assert escape("&#91;") == "&amp;#91;"
    assert unescape("&amp;amp;") == "&amp;"
    assert unescape("no entities") == "no entities"


def test_comma_not_escaped_in_text_but_unescaped_anywhere():
    assert escape("a,b") == "a,b"
    assert unescape("a&#44;b") == "a,b"


def test_group_sample_string_equals_array():
    array = json.loads((SAMPLES / "onebot_group_message.json").read_text("utf-8"))
    string = json.loads((SAMPLES / "onebot_group_message_cqstring.json").read_text("utf-8"))
    assert parse_cq_string(string["message"]) == array["message"]
    assert to_cq_string(array["message"]) == string["message"] == array["raw_message"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        "[CQ:at,qq=all]",
        "&#91;&amp;&#93;&#44;",
        "a & b [c] d, e = f",
        "emoji 🎉👨‍👩‍👧 中文",
        "]][[&&,,",
        "[CQ:face,id=1",
    ],
)
def test_text_round_trip(text):
    assert unescape(escape(text)) == text
    assert unescape(escape(text, escape_comma=True)) == text
    string = to_cq_string([{"type": "text", "data": {"text": text}}])
    expected = [{"type": "text", "data": {"text": text}}] if text else []
    assert parse_cq_string(string) == expected
    # An escaped text never turns into a CQ code.
    assert all(s["type"] == "text" for s in parse_cq_string(escape(text)))


@pytest.mark.parametrize(
    "segments",
    [
        [{"type": "face", "data": {"id": "178"}}],
        [
            {"type": "reply", "data": {"id": "123456"}},
            {"type": "at", "data": {"qq": "10001000"}},
            {"type": "text", "data": {"text": " hi, [there] & more"}},
        ],
        [
            {"type": "share", "data": {"url": "http://x/?a=1&b=2,3", "title": "t=[1],2"}},
            {"type": "text", "data": {"text": "after"}},
            {"type": "image", "data": {"file": "a.jpg", "url": "http://x/a.jpg?x=1&y=[2]"}},
        ],
        [{"type": "shake", "data": {}}],
    ],
)
def test_array_round_trip(segments):
    string = to_cq_string(segments)
    assert parse_cq_string(string) == segments
    assert to_cq_string(parse_cq_string(string)) == string


def test_string_round_trip_canonical():
    s = "[CQ:at,qq=123] &#91;x&#93; y&amp;z[CQ:image,file=a.jpg,url=http://u/?a=1&amp;b&#44;c]tail"
    assert to_cq_string(parse_cq_string(s)) == s


def test_value_types_and_empty_data():
    assert cq_code("at", {"qq": 123}) == "[CQ:at,qq=123]"
    assert cq_code("music", {"type": "qq", "id": 1, "x": None}) == "[CQ:music,type=qq,id=1]"
    assert cq_code("dice", {"flag": True}) == "[CQ:dice,flag=true]"
    assert cq_code("shake") == "[CQ:shake]"
    assert parse_cq_code("[CQ:shake]") == {"type": "shake", "data": {}}
    assert parse_cq_code("[CQ:face,id=1,]") == {"type": "face", "data": {"id": "1"}}
    assert parse_cq_code("[CQ:image,file=]") == {"type": "image", "data": {"file": ""}}


@pytest.mark.parametrize(
    "string",
    ["[CQ:face,id=1", "[CQ:]", "[CQ:face,noequals]", "[CQ:face,=1]", "[CQ", "[CQ:"],
)
def test_malformed_codes_stay_text(string):
    assert parse_cq_string(string) == [{"type": "text", "data": {"text": string}}]
    assert parse_cq_code(string) is None


def test_malformed_code_before_a_good_one():
    assert parse_cq_string("[CQ:bad]x[CQ:face,id=2]") == [
        {"type": "bad", "data": {}},
        {"type": "text", "data": {"text": "x"}},
        {"type": "face", "data": {"id": "2"}},
    ]
    assert parse_cq_string("a[CQ:,x=1]b[CQ:face,id=2]") == [
        {"type": "text", "data": {"text": "a[CQ:,x=1]b"}},
        {"type": "face", "data": {"id": "2"}},
    ]


def test_as_segments_accepts_both_formats_and_drops_junk():
    assert as_segments("hi[CQ:face,id=1]") == [
        {"type": "text", "data": {"text": "hi"}},
        {"type": "face", "data": {"id": "1"}},
    ]
    assert as_segments(
        [
            {"type": "text", "data": {"text": "a"}},
            {"type": "shake"},
            "junk",
            {"data": {}},
            {"type": "x", "data": "notadict"},
        ]
    ) == [{"type": "text", "data": {"text": "a"}}, {"type": "shake", "data": {}}]
    assert as_segments(None) == []
    assert as_segments(42) == []
