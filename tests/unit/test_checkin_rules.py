"""党员服务的纯规则，不用数据库：状态机表、手机号和姓名、是/否与正式/预备、报到的词、失联的界线。"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.checkin.rules import (
    FLOW_IN,
    FLOW_OUT,
    IN_SERVICE,
    NAME_MAX,
    REGISTRATION,
    TRANSFER,
    Transitions,
    check_destination,
    checkin_kind,
    checkin_words,
    contact_month,
    flow_status_after,
    is_lost,
    lost_cutoff,
    mask_phone,
    member_type_of,
    normalize_name,
    normalize_phone,
    open_key,
    org_text,
    parse_number,
    relation_status,
    transfer_reason,
    yes_no,
)
from models.errors import DomainError

COMMANDS = Path(__file__).resolve().parents[2] / "templates" / "zh_CN" / "commands.toml"
LABELS = tomllib.loads(COMMANDS.read_text("utf-8"))["checkin_labels"]
T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def refused(func, *args) -> DomainError:
    with pytest.raises(DomainError) as info:
        func(*args)
    return info.value


# -- state machines ---------------------------------------------------------------------
def test_registration_table():
    assert REGISTRATION.initial == "pending"
    assert REGISTRATION.statuses == {"pending", "confirmed", "rejected", "withdrawn"}
    assert REGISTRATION.final == {"confirmed", "rejected", "withdrawn"}
    # Only a pending registration moves: edited (stays pending), confirmed, rejected, withdrawn.
    for action, target in [
        ("edit", "pending"),
        ("confirm", "confirmed"),
        ("reject", "rejected"),
        ("withdraw", "withdrawn"),
    ]:
        assert REGISTRATION.target(action) == target
        assert [s for s in sorted(REGISTRATION.statuses) if REGISTRATION.allows(s, action)] == [
            "pending"
        ]


def test_transfer_table():
    assert TRANSFER.initial == "pending"
    assert TRANSFER.statuses == {"pending", "approved", "rejected"}
    assert TRANSFER.final == {"approved", "rejected"}
    assert (TRANSFER.target("approve"), TRANSFER.target("reject")) == ("approved", "rejected")
    for decided in TRANSFER.final:
        assert not TRANSFER.allows(decided, "approve") and not TRANSFER.allows(decided, "reject")
    assert TRANSFER.allows("pending", "approve")


def test_a_table_knows_its_statuses():
    t = Transitions("a", {"go": (("a",), "b"), "back": (("b",), "a"), "end": (("a", "b"), "c")})
    assert t.statuses == {"a", "b", "c"} and t.final == {"c"}
    assert t.sources("end") == ("a", "b") and not t.allows("c", "go")
    with pytest.raises(KeyError):
        t.target("fly")


# -- what people type ---------------------------------------------------------------------
def test_phone_rules():
    assert normalize_phone("１３８００００１２３４") == "13800001234"
    assert normalize_phone("１３８　００００　１２３４") == "13800001234"
    assert normalize_phone("138-0000-1234") == "13800001234"
    assert normalize_phone("+86 13800001234") == "13800001234"
    for bad in ("1380000123", "23800001234", "12800001234", "abc", "", "138000012345"):
        assert refused(normalize_phone, bad).code == "checkin_bad_phone"
    assert refused(normalize_phone, " 12" * 20).details["phone"] == ("12 " * 20)[:20]
    assert mask_phone("13800001234") == "138****1234" and mask_phone(None) == ""


def test_name_rules():
    assert normalize_name("  张三 ") == "张三"
    assert normalize_name("张" * NAME_MAX) == "张" * NAME_MAX
    for bad in ("", "   ", "张" * (NAME_MAX + 1)):
        err = refused(normalize_name, bad)
        assert (err.code, err.details) == ("checkin_bad_name", {"limit": NAME_MAX})


def test_numbers_as_typed():
    assert parse_number("12") == 12 and parse_number("#１２") == 12 and parse_number(" 7 ") == 7
    for bad in ("", "abc", "1.5", "-3", "1234567890"):
        assert parse_number(bad) is None


def test_org_text_and_reason():
    assert org_text("  广州某某公司党支部 ") == "广州某某公司党支部"
    assert refused(org_text, " ").code == "checkin_need_home"
    assert refused(org_text, "x" * 101).details == {"limit": 100}
    assert refused(org_text, "", "checkin_need_destination").code == "checkin_need_destination"
    assert transfer_reason(" 工作调动 ") == "工作调动" and transfer_reason("x" * 500)
    assert refused(transfer_reason, "x" * 501).code == "checkin_need_reason"
    assert refused(transfer_reason, "").code == "checkin_need_reason"


def test_yes_no_in_the_labels_words():
    yes, no = LABELS["yes_words"], LABELS["no_words"]
    for answer in ("是", "已转", "１", "Y", "YES", " 有 "):
        assert yes_no(answer, yes, no) is True
    for answer in ("否", "没有", "2", "N", "ｎｏ"):
        assert yes_no(answer, yes, no) is False
    err = refused(yes_no, "也许", yes, no)
    assert (err.code, err.details) == ("checkin_bad_yes_no", {"value": "也许"})


def test_member_type_in_the_labels_words():
    words = LABELS["member_type_words"]
    assert [member_type_of(a, words) for a in ("1", "１", "正式", "正式党员")] == ["full"] * 4
    assert [member_type_of(a, words) for a in ("2", "预备", " 预备党员")] == ["probationary"] * 3
    assert refused(member_type_of, "3", words).code == "checkin_bad_member_type"
    assert refused(member_type_of, "正式", {}).code == "checkin_bad_member_type"


def test_checkin_words():
    words = LABELS["in_service_words"]
    assert checkin_words([], words) == (FLOW_IN, [])
    assert checkin_words(["在职"], words) == (IN_SERVICE, [])
    assert checkin_words(["SQ001"], words) == (FLOW_IN, ["SQ001"])
    assert checkin_words(["在职党员", "ＳＱ００１"], words) == (IN_SERVICE, ["SQ001"])


# -- check-ins, registrations, transfers ---------------------------------------------------
def test_checkin_rules():
    assert checkin_kind("in_service") == IN_SERVICE and checkin_kind("whatever") == FLOW_IN
    assert open_key(7, 3) == "7:3"
    assert flow_status_after([]) == FLOW_OUT
    assert flow_status_after([IN_SERVICE, FLOW_IN]) == IN_SERVICE
    assert relation_status(True) == "registered" and relation_status(False) == "unregistered"


def test_a_transfer_goes_elsewhere():
    check_destination(1, 2, "甲")
    check_destination(1, None, "甲")  # outside the system, named in words
    err = refused(check_destination, 1, 1, "和平社区第一党支部")
    assert (err.code, err.details) == ("transfer_same_org", {"org_name": "和平社区第一党支部"})


# -- contact ----------------------------------------------------------------------------------
def test_lost_contact_cutoff():
    assert lost_cutoff(T0, 90) == T0 - timedelta(days=90)
    assert is_lost(None, T0)
    assert not is_lost(T0 - timedelta(days=90), T0, 90)  # exactly 90 days: not yet
    assert is_lost(T0 - timedelta(days=90, seconds=1), T0, 90)
    assert not is_lost(T0 - timedelta(days=100), T0, 200)


def test_contact_month():
    assert contact_month(datetime(2026, 11, 30, 23, 59)) == "202611"
    assert contact_month(datetime(2027, 1, 1)) == "202701"


# -- the dialogs ---------------------------------------------------------------------------------
def test_dialogs_keep_their_stored_keys():
    """Open dialogs survive an upgrade: the (dialog, step) pairs stored before stay."""
    from handlers.checkin.checkins import Checkin
    from handlers.checkin.privacy import ForgetMe
    from handlers.checkin.register import Register
    from handlers.checkin.transfer import Transfer

    stored = [s.key for d in (Register, Checkin, Transfer, ForgetMe) for s in d.steps]
    assert stored == [
        ("register", "name"),
        ("register", "phone"),
        ("register", "home"),
        ("register", "local"),
        ("register", "type"),
        ("register", "relation"),
        ("checkin", "org"),
        ("transfer", "from"),
        ("transfer", "to"),
        ("transfer", "reason"),
        ("forgetme", "confirm"),
    ]
    assert Transfer.step("from") is Transfer.source


# -- who sees a phone in full ----------------------------------------------------------------------
class _Officer:
    """An officer of the organisations under `path` (as bot.identity.Caller decides)."""

    is_admin = False

    def __init__(self, path: str) -> None:
        self.path = path

    def is_officer_of(self, org) -> bool:
        return org.path.startswith(self.path)

    def scope_paths(self) -> list[str]:
        return [self.path]


def test_phone_in_full_only_for_the_officers_over_the_person():
    from types import SimpleNamespace

    from models.people import Person

    class Loaded(SimpleNamespace):
        """A person as loaded with home_org and local_org (no database here)."""

        covered_by = Person.covered_by
        phone_shown_to = Person.phone_shown_to

    branch, elsewhere = SimpleNamespace(path="/1/2/3/"), SimpleNamespace(path="/1/5/")
    p = Loaded(phone="13800001234", home_org=branch, local_org=None)
    community, street, other = _Officer("/1/2/"), _Officer("/1/"), _Officer("/1/5/")
    assert p.covered_by(community) and p.covered_by(street) and not p.covered_by(other)
    assert p.phone_shown_to(community) == "13800001234"
    assert p.phone_shown_to(other) == "138****1234"
    assert p.phone_shown_to(other, "13900005678") == "139****5678"  # a registration's
    p.local_org = elsewhere  # checked in there: its officers see it in full too
    assert p.phone_shown_to(other) == "13800001234"
    assert Loaded(phone=None, home_org=None, local_org=None).phone_shown_to(other) == ""
