"""党员服务的纯规则：不碰数据库，不看时钟（tests/unit/test_checkin_rules.py 在毫秒内测完）。

The registration and transfer state machines are tables here; the models feed their
conditional ``UPDATE … WHERE status IN (…)`` from them, so a race has one winner in the
database and the rule is written once. The words people answer with (yes/no, 正式/预备,
在职) are the service's labels in templates/zh_CN/commands.toml, passed in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.text import fold_width, mask_phones
from models.errors import DomainError

MEMBER_TYPES = ("full", "probationary")  # 正式党员 / 预备党员
CHECKIN_KINDS = ("flow_in", "in_service")  # 流入 / 在职党员到社区报到
# Person.relation_status: the relation letter handed in, or a 口袋党员.
RELATION_REGISTERED = "registered"
RELATION_POCKET = "unregistered"
MEMBER_RELATIONS = (RELATION_REGISTERED, RELATION_POCKET)
# Person.flow_status
FLOW_IN, FLOW_OUT, IN_SERVICE = "flow_in", "flow_out", "in_service"
DEFAULT_LOST_DAYS = 90
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
NAME_MAX = 20
# A branch or organisation named in words (outside the system), a transfer's reason.
ORG_TEXT_MAX = 100
REASON_MAX = 500


# -- state machines -------------------------------------------------------------------
@dataclass(frozen=True)
class Transitions:
    """A state machine as a table: action → (the statuses it may start from, where it goes)."""

    initial: str
    moves: Mapping[str, tuple[tuple[str, ...], str]]

    def sources(self, action: str) -> tuple[str, ...]:
        return self.moves[action][0]

    def target(self, action: str) -> str:
        return self.moves[action][1]

    def allows(self, status: str, action: str) -> bool:
        return status in self.sources(action)

    @property
    def statuses(self) -> frozenset[str]:
        found = {self.initial}
        for sources, target in self.moves.values():
            found.update(sources, (target,))
        return frozenset(found)

    @property
    def final(self) -> frozenset[str]:
        """The statuses no action leaves (the row is decided for good)."""
        leaving = {s for sources, target in self.moves.values() for s in sources if s != target}
        return self.statuses - leaving


# 亮身份: a registration waits for its organisation's officers; while pending, /登记 again
# edits it; a person who erases their data withdraws it.
REGISTRATION = Transitions(
    initial="pending",
    moves={
        "edit": (("pending",), "pending"),
        "confirm": (("pending",), "confirmed"),
        "reject": (("pending",), "rejected"),
        "withdraw": (("pending",), "withdrawn"),
    },
)
# 接转组织关系: the sending side (转出方) approves or rejects, once.
TRANSFER = Transitions(
    initial="pending",
    moves={
        "approve": (("pending",), "approved"),
        "reject": (("pending",), "rejected"),
    },
)


# -- what people type -------------------------------------------------------------------
def normalize_phone(text: str) -> str:
    """An 11-digit mainland mobile number; full-width digits, spaces and dashes accepted."""
    digits = re.sub(r"[\s\-]", "", fold_width(text or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    if not PHONE_RE.match(digits):
        raise DomainError("checkin_bad_phone", phone=(text or "").strip()[:20])
    return digits


def mask_phone(phone: str | None) -> str:
    return mask_phones(phone or "")


def normalize_name(text: str) -> str:
    name = (text or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise DomainError("checkin_bad_name", limit=NAME_MAX)
    return name


def parse_number(text: str) -> int | None:
    """A registration's or transfer's number as typed (#12, full-width digits)."""
    t = fold_width(text or "").strip().lstrip("#")
    return int(t) if t.isdigit() and len(t) < 10 else None


def org_text(text: str, code: str = "checkin_need_home") -> str:
    """An organisation named in words (1 to 100 characters); `code` when it is not."""
    answer = (text or "").strip()
    if not 1 <= len(answer) <= ORG_TEXT_MAX:
        raise DomainError(code, limit=ORG_TEXT_MAX)
    return answer


def transfer_reason(text: str) -> str:
    """A transfer's reason as asked in the dialog: 1 to 500 characters."""
    reason = (text or "").strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise DomainError("checkin_need_reason", limit=REASON_MAX)
    return reason


def member_type_of(answer: str, words: Mapping[str, Collection[str]]) -> str:
    """正式 / 预备 as answered (``words``: member type → the answers that mean it)."""
    a = fold_width(answer).strip()
    for kind in MEMBER_TYPES:
        if a in words.get(kind, ()):
            return kind
    raise DomainError("checkin_bad_member_type", value=answer)


def yes_no(answer: str, yes: Collection[str], no: Collection[str]) -> bool:
    """是 / 否 as answered, in the service's words (case and width folded)."""
    a = fold_width(answer).strip().lower()
    if a in yes:
        return True
    if a in no:
        return False
    raise DomainError("checkin_bad_yes_no", value=answer)


def checkin_words(words: list[str], in_service_words: Collection[str]) -> tuple[str, list[str]]:
    """/报到's arguments: the kind (在职 among them, else 流入) and the organisation codes."""
    folded = [fold_width(w) for w in words]
    kind = IN_SERVICE if any(w in in_service_words for w in folded) else FLOW_IN
    return kind, [w for w in folded if w not in in_service_words]


# -- check-ins ---------------------------------------------------------------------------
def checkin_kind(kind: str) -> str:
    return kind if kind in CHECKIN_KINDS else FLOW_IN


def open_key(person_id: int, org_id: int) -> str:
    """CheckIn.open_key while open: one open check-in per (person, organisation)."""
    return f"{person_id}:{org_id}"


def flow_status_after(open_kinds: list[str]) -> str:
    """Person.flow_status given the kinds of their open check-ins, newest first."""
    return open_kinds[0] if open_kinds else FLOW_OUT


def relation_status(relation_handed: bool) -> str:
    return RELATION_REGISTERED if relation_handed else RELATION_POCKET


# -- registrations and transfers ------------------------------------------------------------
def check_destination(from_org_id: int, to_org_id: int | None, from_name: str) -> None:
    """A transfer goes somewhere else than where it comes from."""
    if to_org_id is not None and to_org_id == from_org_id:
        raise DomainError("transfer_same_org", org_name=from_name)


# -- contact ---------------------------------------------------------------------------------
def lost_cutoff(now: datetime, days: int = DEFAULT_LOST_DAYS) -> datetime:
    """Last contact before this is lost contact (失联)."""
    return now - timedelta(days=days)


def is_lost(last_seen_at: datetime | None, now: datetime, days: int = DEFAULT_LOST_DAYS) -> bool:
    """The rule `lost_q` asks the database: never seen, or not since the cutoff."""
    return last_seen_at is None or last_seen_at < lost_cutoff(now, days)


def contact_month(now_local: datetime) -> str:
    """The month a contact reminder belongs to (once a month per person): 202611."""
    return now_local.strftime("%Y%m")
