"""花名册的单元格规则，不用数据库：组织代码、类别、党员类别、组织关系、聊天账号。"""

from __future__ import annotations

import pytest

from models.errors import DomainError
from models.roster import (
    COLUMNS,
    TITLES,
    parse_account,
    parse_code,
    parse_kind,
    parse_member_type,
    parse_org_name,
    parse_platform,
    parse_relation,
)


def code_of(func, text: str) -> str:
    with pytest.raises(DomainError) as info:
        func(text)
    return info.value.code


def test_codes_and_names():
    assert parse_code(" zb002 ") == "ZB002"
    assert code_of(parse_code, "ZB 002") == "bad_org_code"
    assert code_of(parse_code, "X" * 33) == "bad_org_code"
    assert parse_org_name("示例社区第二党支部") == "示例社区第二党支部"
    assert code_of(parse_org_name, "x" * 101) == "too_long"


def test_kinds_in_words_or_codes():
    assert [parse_kind(w) for w in ("区委", "党支部", "党小组", "共建单位", "Branch")] == [
        "district",
        "branch",
        "grid",
        "partner",
        "branch",
    ]
    with pytest.raises(DomainError) as info:
        parse_kind("居委会")
    assert info.value.details["kinds"].startswith("区委、区、街道、街道党工委")


def test_member_type_and_relation():
    assert [parse_member_type(w) for w in ("正式党员", "预备", "full")] == [
        "full",
        "probationary",
        "full",
    ]
    assert code_of(parse_member_type, "群众") == "bad_member_type"
    assert [parse_relation(w) for w in ("", "已转入", "口袋党员", " 否 ")] == [
        "registered",
        "registered",
        "unregistered",
        "unregistered",
    ]
    assert code_of(parse_relation, "不知道") == "bad_relation"


def test_accounts_and_platforms():
    assert parse_account("WeChat:oAbc123 ") == ("wechat", "oAbc123")
    assert code_of(parse_account, "weibo:1") == "bad_account"
    assert code_of(parse_account, "onebot:") == "bad_account"
    assert parse_platform(" QQ") == "qq" and code_of(parse_platform, "x") == "bad_platform"


def test_every_roster_has_its_words():
    for kind in ("orgs", "members", "bindings"):
        assert TITLES[kind] and all(c.header for c in COLUMNS[kind])
    assert [c.header for c in COLUMNS["members"]] == [
        "姓名",
        "手机号",
        "所属组织代码",
        "党员类别",
        "组织关系",
        "聊天账号",
    ]
