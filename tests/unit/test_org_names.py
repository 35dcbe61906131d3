"""A community named as residents say it (models/org_names.py: match_name)."""

from __future__ import annotations

from models.org_names import Named, core, match_name

ORGS = [
    Named(1, "SQ001", "和平社区党委"),
    Named(2, "SQ002", "光明社区党委"),
    Named(3, "ZB001", "和平社区第3党支部"),
    Named(4, "SQ101", "新华社区党委"),
    Named(5, "SQ102", "新化社区党委"),
    Named(6, "WG001", "和平社区第一网格"),
]
COMMUNITIES = [o for o in ORGS if o.code.startswith("SQ")]


def taken(typed: str, orgs=COMMUNITIES) -> str | None:
    chosen, _ = match_name(typed, orgs)
    return chosen.code if chosen else None


def offered(typed: str, orgs=COMMUNITIES) -> list[str]:
    return [o.code for o in match_name(typed, orgs)[1]]


def test_core_is_the_name_as_people_say_it():
    assert core("和平社区党委") == "和平社区"
    assert core("和平社区第3党支部") == "和平社区第三"
    assert core("长安街道党工委") == "长安街道"
    assert core("ＨＥ ping") == "heping"


def test_a_name_without_its_suffix_or_the_start_of_it_is_taken():
    assert taken("和平社区") == "SQ001"
    assert taken("和平社区党委") == "SQ001"
    assert taken("和平") == "SQ001"
    assert taken(" 光明社区 ") == "SQ002"


def test_pinyin_and_homophones_are_taken_when_they_name_one():
    assert taken("heping") == "SQ001"
    assert taken("HePingSheQu") == "SQ001"
    assert taken("河平社区") == "SQ001"  # the keyboard's first 和 was 河
    # …also beside a grid whose name begins with it: the same sound wins over a prefix
    assert taken("河平社区", ORGS) == "SQ001"
    assert taken("guangming") == "SQ002"


def test_a_name_that_fits_several_is_offered_not_taken():
    assert taken("新") is None and offered("新") == ["SQ101", "SQ102"]
    assert taken("新华社区") == "SQ101"
    both = match_name("xinhua", COMMUNITIES)  # 新华 and 新化 sound the same
    assert both[0] is None and {o.code for o in both[1]} == {"SQ101", "SQ102"}
    assert offered("社区")[:4] == ["SQ001", "SQ002", "SQ101", "SQ102"]


def test_branches_by_number_written_either_way():
    branches = [o for o in ORGS if o.code.startswith("ZB")]
    assert taken("和平社区第三支部", branches) == "ZB001"
    assert taken("和平社区第3党支部", branches) == "ZB001"


def test_a_look_alike_is_only_offered_and_nonsense_finds_nothing():
    assert taken("和平小区") is None and "SQ001" in offered("和平小区")
    assert match_name("我不知道", COMMUNITIES) == (None, [])
    assert match_name("he", COMMUNITIES) == (None, [])  # too short a pinyin to mean one
    assert match_name("", COMMUNITIES) == (None, [])
    story = "我家楼下的路灯坏了好几天了，晚上出门很不方便，请帮忙修一下"
    assert match_name(story, COMMUNITIES) == (None, [])
