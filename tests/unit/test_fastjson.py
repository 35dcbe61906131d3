"""bot.fastjson.dumps writes what json.dumps(ensure_ascii=False, default=str) writes."""

from __future__ import annotations

import json
from datetime import date

from bot.fastjson import dumps


def test_same_text_as_json_dumps():
    values = [
        {"platform": "onebot", "user": "2000", "ms": 2.51, "ok": True, "none": None},
        {"reply": '连心 · 可用命令\n1. 帮助\t"引号" \\ \u2028', "at_sender": False},
        {"nested": {"a": [1, 2.0, -0.5, 1e20, "x"]}, "day": date(2026, 12, 1)},
        {"k": float("nan"), "i": float("inf")},
        [],
        "plain",
    ]
    for value in values:
        assert dumps(value) == json.dumps(value, ensure_ascii=False, default=str)
