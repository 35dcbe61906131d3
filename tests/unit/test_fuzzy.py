"""按字、按拼音找命令（bot/fuzzy.py）：不连数据库。"""

from __future__ import annotations

import pytest

from bot.fuzzy import WordIndex, normalize, pinyin_of
from bot.registry import Registry
from handlers import ROUTERS

REGISTRY = Registry(ROUTERS)


def closest(word: str) -> tuple[str, bool] | None:
    match = REGISTRY.index.closest(word)
    return (match.value.name, match.confident) if match else None


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("报道", "报到"),  # the homophone typo
        ("报导", "报到"),
        ("签道", "签到"),
        ("qiandao", "签到"),  # pinyin typed
        ("QianDao", "签到"),
        ("jiedan", "接单"),
        ("三会1课", "三会一课"),  # a digit for the numeral
        ("取消报明", "取消报名"),
        ("活东", "活动"),
        ("huodong", "活动"),
        ("jifen", "积分"),
        ("诉球", "诉求"),
        ("suqiu", "诉求"),
        ("bangzhu", "帮助"),
        ("进渡", "进度"),
        ("帮助", "帮助"),
    ],
)
def test_sure_matches(typed, meant):
    assert closest(typed) == (meant, True)


@pytest.mark.parametrize(
    ("typed", "nearest"),
    [
        ("帮组", "帮助"),  # one character off: the nearest, not /组织
        ("helo", "帮助"),
        ("qiandoa", "签到"),  # two letters swapped count as one edit
        ("我的积份", "我的信息"),  # edits first (2), then the sound
    ],
)
def test_nearest_but_not_sure(typed, nearest):
    assert closest(typed) == (nearest, False)


@pytest.mark.parametrize("typed", ["", "xx", "👋🏻党建", "字" * 20, "1"])
def test_nothing_near(typed):
    assert closest(typed) is None


def test_pinyin_and_numerals():
    assert pinyin_of("签到") == "qiandao"
    assert pinyin_of("绿化") == "lvhua"
    assert normalize("三会1课") == "三会一课"
    assert normalize("Q1") == "q1"  # letters and digits alone are left as typed


def test_a_sound_shared_by_two_values_is_not_sure():
    index = WordIndex([("报到", "checkin"), ("报道", "news")])
    match = index.closest("baodao")
    assert match is not None and not match.confident
    assert index.closest("报到").confident  # typed exactly: sure


def test_only_allowed_values_are_offered():
    index = WordIndex([("接单", "accept"), ("结单", "close")])
    assert index.closest("jiedan", allowed=lambda v: v != "accept").value == "close"
    assert index.closest("jiedan", allowed=lambda v: False) is None


def test_every_listed_command_is_in_a_service_of_the_short_menu():
    import tomllib
    from pathlib import Path

    menu = tomllib.loads((Path(__file__).parents[2] / "templates/zh_CN/menu.toml").read_text())
    placed = {key for service in menu["service"] for key in service["commands"]}
    assert [c.key for c in REGISTRY.commands if c.listed and c.key not in placed] == []
