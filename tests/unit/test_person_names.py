"""How a person is shown (Person.name_of, the one rule) and where the platform's
account-wide nickname comes from: pure, no database."""

from __future__ import annotations

import json
from pathlib import Path

from bot.channels.onebot import OnebotChannel
from bot.identity import Caller, IdentityService
from bot.inbound import Inbound
from models.people import Person

SAMPLES = Path(__file__).parent.parent / "samples"


def test_a_name_of_their_own_wins_over_the_nickname():
    # registered / imported (real_name), then chosen or seeded (display_name)
    assert Person.name_of(7, "张三", "老张", nickname="小张", phone="13800001234") == "张三"
    assert Person.name_of(7, None, "老张", nickname="小张", phone="13800001234") == "老张"
    assert Person.name_of(7, "", "", nickname="小张", phone="13800001234") == "小张"


def test_without_names_the_phone_tail_then_the_record_number():
    assert Person.name_of(7, None, "", nickname="", phone="138-0000-1234") == "居民（尾号1234）"
    assert Person.name_of(7, None, "", nickname=None, phone="123") == "居民（编号7）"
    assert Person.name_of(7, None, None) == "居民（编号7）"


def test_the_property_and_rows_read_as_values_use_the_same_rule():
    p = Person(id=9, real_name=None, display_name="", nickname="小不点", phone="13900005678")
    row = tuple(getattr(p, f) for f in Person.NAME_FIELDS)
    assert p.name == Person.name_from(row) == "小不点"
    p.real_name = "李四"
    assert p.name == Person.name_from(tuple(getattr(p, f) for f in Person.NAME_FIELDS)) == "李四"
    assert Person(id=9, nickname="", phone="13900005678").name == "居民（尾号5678）"


def test_an_officer_may_name_someone_by_any_of_their_names():
    p = Person(id=3, real_name="李四", display_name="老李", nickname="小李")
    assert all(p.called(n) for n in ("李四", "老李", "小李"))
    assert not p.called("") and not p.called("李")
    assert not Person(id=4, real_name=None, display_name="", nickname="").called("")


def onebot_sample(name: str) -> dict:
    return json.loads((SAMPLES / f"onebot_{name}.json").read_text("utf-8"))


def test_onebot_keeps_the_nickname_and_greets_with_the_group_card():
    data = onebot_sample("group_message")  # sender: nickname 小不点, card 群名片
    inb = OnebotChannel._inbound(data, "10001000", True)
    assert inb is not None and (inb.display_name, inb.nickname) == ("群名片", "小不点")
    data["sender"]["card"] = "三楼老王"  # another group's card: the same nickname
    other = OnebotChannel._inbound(data, "10001000", True)
    assert other is not None and (other.display_name, other.nickname) == ("三楼老王", "小不点")
    private = OnebotChannel._inbound(onebot_sample("private_message"), "10001000", False)
    assert private is not None and (private.display_name, private.nickname) == ("小不点",) * 2


def test_onebot_anonymous_senders_share_one_user_and_no_nickname():
    data = onebot_sample("group_message")
    data.update(user_id=80000000, anonymous={"id": 1, "name": "小鸡", "flag": "F"})
    inb = OnebotChannel._inbound(data, "10001000", True)
    assert inb is not None and (inb.display_name, inb.nickname) == ("小鸡", "")


def test_inbound_cleans_the_nickname_like_names():
    inb = Inbound("onebot", "1", "1", nickname="\u202e小\x00王 " + "长" * 100)
    assert inb.nickname.startswith("小王") and len(inb.nickname) == 64


def test_only_a_known_persons_changed_nickname_bypasses_the_cache():
    known = Caller("onebot", "1", "小不点", person_id=5, nickname="小不点")
    assert not IdentityService._renamed(known, "小不点")
    assert not IdentityService._renamed(known, "")  # a platform that sends none
    assert IdentityService._renamed(known, "大不点")
    # no record yet: nothing to keep, the cache answers (the person is made on a write)
    assert not IdentityService._renamed(Caller("onebot", "1", "x"), "大不点")
