"""网格的纯规则，不用数据库：地址、方式、配额、进度、失联阶梯的月份。"""

from __future__ import annotations

from datetime import date

import pytest

from models.errors import DomainError
from models.grids.rules import (
    LOST,
    NORMAL,
    SUSPECTED,
    Door,
    HouseholdYear,
    expected_visits,
    is_due,
    ladder_stage,
    match_place,
    may_confirm,
    normalize_tags,
    over_quota,
    parse_place,
    progress,
    reads_as_request,
    split_visit_line,
    unreached_months,
)

MODE_WORDS = {
    "visit": ["上门", "入户"],
    "phone": ["电话", "打电话"],
    "wechat": ["微信"],
    "other": ["其他"],
}


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("5栋3单元301", "5-3-301"),
        ("5栋3单元301室", "5-3-301"),
        ("５栋３单元３０１", "5-3-301"),
        ("5号楼3单元301", "5-3-301"),
        ("5-3-301", "5-3-301"),
        ("5－3－301", "5-3-301"),
        ("5幢3-301", "5-3-301"),
        ("五栋三单元三零一", "5-3-301"),
        ("5 栋 3 单元 301", "5-3-301"),
        ("和平里5栋301", "5--301"),
        ("5栋301", "5--301"),
        ("5#301", "5--301"),
        ("05-3-0301", "5-3-301"),
        ("十二栋二单元502", "12-2-502"),
        ("北门平房 东头", "北门平房东头"),
    ],
)
def test_places_as_people_write_them(typed, key):
    assert parse_place(typed).key == key


DOORS = [
    Door(1, "5-3-301", "张大爷"),
    Door(2, "5-2-301", "李奶奶"),
    Door(3, "6-1-101", "王五"),
    Door(4, "北门平房东头", "赵六"),
]


def test_a_door_number_matches_building_and_room():
    assert match_place("5栋3单元301", DOORS) == (DOORS[0], [])
    assert match_place("6栋101", DOORS) == (DOORS[2], [])
    # two 301s in building 5: ask which one, never guess
    found, maybe = match_place("5栋301", DOORS)
    assert found is None and {d.id for d in maybe} == {1, 2}
    # a near miss (302) is only suggested: another family lives there
    found, maybe = match_place("5栋3单元302", DOORS)
    assert found is None and DOORS[0] in maybe


def test_free_text_and_names_are_matched_fuzzily():
    assert match_place("北门平房", DOORS) == (DOORS[3], [])
    assert match_place("王五", DOORS) == (DOORS[2], [])
    assert match_place("火星基地", DOORS) == (None, [])


def test_one_line_visit_splits_place_mode_note():
    assert split_visit_line("5栋301 电话 反映下水道堵", MODE_WORDS) == (
        "5栋301", "phone", "反映下水道堵"
    )  # fmt: skip
    assert split_visit_line("5栋301 反映下水道堵", MODE_WORDS) == (
        "5栋301",
        "visit",
        "反映下水道堵",
    )
    assert split_visit_line("5栋301 打电话问候", MODE_WORDS) == ("5栋301", "phone", "问候")
    assert split_visit_line("5栋301　微信", MODE_WORDS) == ("5栋301", "wechat", "")
    assert split_visit_line("5栋301", MODE_WORDS) == ("5栋301", "visit", "")


def test_request_vocabulary():
    words = ["反映", "堵", "坏了"]
    assert reads_as_request("反映下水道堵", words)
    assert not reads_as_request("身体很好，问候", words)


def test_tags_come_from_the_configured_list():
    allowed = ["独居老人", "困难家庭", "党员户", "出租户"]
    assert normalize_tags("独居老人、党员户，独居老人", allowed) == ["独居老人", "党员户"]
    assert normalize_tags("", allowed) == []
    with pytest.raises(DomainError) as err:
        normalize_tags("富裕户", allowed)
    assert err.value.code == "grid_bad_tag"


def test_four_visits_a_year_means_one_a_quarter():
    assert [expected_visits(4, m) for m in range(1, 13)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [expected_visits(6, m) for m in (1, 2, 3, 12)] == [1, 1, 2, 6]
    assert [expected_visits(12, m) for m in (1, 6, 12)] == [1, 6, 12]
    assert expected_visits(1, 12) == 1 and expected_visits(0, 5) == 0
    assert is_due(0, 4, 1) and not is_due(1, 4, 3) and is_due(1, 4, 4)
    assert not is_due(5, 4, 12)


def test_progress_counts_visited_met_and_due_most_behind_first():
    rows = [
        HouseholdYear(1, "5-3-301 张", 4, date(2026, 9, 1)),
        HouseholdYear(2, "5-2-301 李", 0, None),
        HouseholdYear(3, "6-1-101 王", 2, date(2026, 5, 1)),
        HouseholdYear(4, "6-1-102 赵", 2, date(2026, 3, 1)),
    ]
    p = progress(rows, quota=4, month=8)  # 3 expected by the end of Q3
    assert (p.assigned, p.visited, p.met, p.coverage) == (4, 3, 1, 75)
    assert [h.id for h in p.due] == [2, 4, 3]
    assert progress([], 4, 1).coverage == 0
    assert over_quota(22, 20) == 2 and over_quota(15, 20) == 0


def test_unreached_months_count_whole_months_after_the_last_contact():
    july = date(2026, 7, 20)
    assert unreached_months(july, date(2026, 7, 31)) == 0
    assert unreached_months(july, date(2026, 8, 31)) == 0
    assert unreached_months(july, date(2026, 10, 31)) == 2
    assert unreached_months(july, date(2026, 11, 1)) == 3
    assert unreached_months(july, date(2027, 2, 1)) == 6
    assert unreached_months(date(2026, 12, 5), date(2027, 1, 2)) == 0


def test_ladder_stages():
    assert ladder_stage(2, False) == NORMAL
    assert ladder_stage(3, False) == SUSPECTED
    assert ladder_stage(0, True) == LOST
    assert not may_confirm(SUSPECTED, 5) and may_confirm(SUSPECTED, 6)
    assert not may_confirm(NORMAL, 9) and not may_confirm(LOST, 9)
