"""大白话 → 想办的事（bot/intents.py 与 templates/zh_CN/intents.toml）：不连数据库。"""

from __future__ import annotations

import pytest

from bot.intents import IntentMatcher
from bot.templates import Templates

MATCHER = IntentMatcher(Templates().vocabulary("intents"))

SAID = [
    # requests (诉求): filed only after "回复 1"
    ("楼道灯坏了", "request"),
    ("3号楼2单元楼道灯坏了一个星期了", "request"),
    ("楼道灯怀了", "request"),  # a homophone typo
    ("电梯又坏了，有人管吗", "request"),
    ("我家楼上漏水", "request"),
    ("卫生间渗水到楼下了", "request"),
    ("下水道堵了好几天", "request"),
    ("小区停水了", "request"),
    ("我们楼停电了", "request"),
    ("路灯不亮", "request"),
    ("垃圾好几天没人收", "request"),
    ("楼下广场舞噪音太大", "request"),
    ("晚上装修太吵了", "request"),
    ("门口有车乱停", "request"),
    ("楼道里乱堆杂物", "request"),
    ("窨井盖松了", "request"),
    ("单元门锁坏掉了", "request"),
    ("暖气不热", "request"),
    ("我想投诉一下物业", "request"),
    ("想反映个问题", "request"),
    ("老人摔倒了需要帮帮忙", "request"),
    ("独居老人没人照顾", "request"),
    ("公司欠薪三个月了", "request"),
    ("饭店油烟很大", "request"),
    ("家里水管爆了要报修", "request"),
    ("楼道里有老鼠", "request"),
    # checking in / registering (as fits the person: handlers/talk.py)
    ("我是流动党员，想报到", "checkin"),
    ("我是流动党员，想在咱们社区报到", "checkin"),
    ("在职党员到社区报到", "checkin"),
    ("我是外地党员", "checkin"),
    ("我想亮身份", "checkin"),
    ("我要报道", "checkin"),  # the homophone
    ("我要登记党员身份", "register"),
    ("我想转组织关系", "transfer"),
    ("组织关系转到这边来", "transfer"),
    # activities
    ("有什么活动", "menu"),
    ("最近有啥活动吗", "menu"),
    ("我想参加活动", "menu"),
    ("有志愿服务吗", "menu"),
    ("想报名参加", "menu"),
    ("我的活动", "myactivities"),
    ("我报名的活动有哪些", "myactivities"),
    # points, time bank, lessons
    ("我的积分", "points"),
    ("我的积份", "points"),  # a homophone typo
    ("我有多少分", "points"),
    ("查一下积分", "points"),
    ("时间银行", "timebank"),
    ("我的志愿时长", "timebank"),
    ("今天的党课", "lesson"),
    ("每日一课", "lesson"),
    # my requests, public figures
    ("我的诉求", "myrequests"),
    ("我反映的事办得怎么样了", "myrequests"),
    ("诉求进度", "myrequests"),
    ("路灯坏了的诉求进度", "myrequests"),  # asking after it, not filing again
    ("党务公开", "stats"),
    # who and where
    ("我的社区是哪个", "community"),
    ("社区代码是多少", "orgs"),
    ("有哪些社区", "orgs"),
    # how to use
    ("怎么用", "help"),
    ("你能做什么", "help"),
    ("有什么功能", "help"),
    ("菜单", "help"),
]

NOTHING = [
    "你好",
    "您好",
    "谢谢",
    "谢谢你",
    "好的",
    "收到",
    "哈哈",
    "早上好",
    "晚安",
    "吃了吗",
    "在吗",
    "嗯嗯",
    "再见",
    "今天天气不错",
    "怎么交党费",  # not a service we have: the short menu
    "this is a test",
    "腾讯微信团队",
    "👍",
    "",
    "灯已经修好了，谢谢",
    "哈哈电梯坏了吧",
    "长" * 400,
]


def test_the_table_is_big_enough():
    assert len(SAID) + len(NOTHING) >= 60 and len(SAID) >= 60


@pytest.mark.parametrize(("text", "intent"), SAID)
def test_plain_words_give_the_intent(text, intent):
    found = MATCHER.detect(text)
    assert found is not None and found.intent.name == intent, (text, found)


@pytest.mark.parametrize("text", NOTHING)
def test_chatter_and_unknowns_give_nothing(text):
    assert MATCHER.detect(text) is None


def test_in_groups_only_requests_are_noticed():
    assert MATCHER.detect("我的积分", group=True) is None
    found = MATCHER.detect("3号楼2单元楼道灯坏了一个星期了", group=True)
    assert found is not None and found.intent.name == "request"


def test_every_intent_leads_to_a_command_and_offers_say_something():
    from bot.registry import Registry
    from handlers import ROUTERS

    registry = Registry(ROUTERS)
    for intent in MATCHER.intents:
        cmd = registry.find(intent.command)
        assert cmd is not None, intent.name
        if intent.action == "run":
            # Only what changes nothing runs unasked (/我的社区 without a code only shows).
            assert not cmd.mutates or cmd.key == "mycommunity", intent.name
        else:
            assert "回复 1" in intent.prompt, intent.name
