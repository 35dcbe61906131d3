"""党员亮身份（登记）、报到 / 离开、接转组织关系，以及给党务工作者看的台账数字。

- `rules`: pure (no database, no clock): the registration and transfer state machines as
  tables, what people type (phone, name, yes/no, 正式/预备), the lost-contact cutoff.
- `registration`: `MemberRegistration` (亮身份) and `check_member`.
- `checkins`: `CheckIn` (报到 / 离开).
- `transfer`: `TransferRequest`, `TransferEvent` (接转组织关系).
- `views`: officers' scope, lost contact, find, figures; phone shown by scope.
- `privacy`: /我的信息, /删除我的信息. `contact`: `touch` (last contact).

Every state change is one conditional ``UPDATE … WHERE status IN …`` whose row count
decides who won. Models take ``now`` from the caller (the runtime's clock). Refusals are
`DomainError`s; the sentences are in templates/zh_CN/refused.j2.

Contact ("last seen"): `Person.last_seen_at` moves on any contact (models/grids/ladder.py
`record_contact`: any message, a visit to the member's household); here registering,
checking in, leaving and asking for a transfer touch it (`touch`). Lost contact and the
失联 ladder are computed from it.
"""

from models.checkin.checkins import CheckIn
from models.checkin.contact import touch
from models.checkin.privacy import erase_person, profile
from models.checkin.registration import MemberRegistration, check_member
from models.checkin.rules import (
    CHECKIN_KINDS,
    DEFAULT_LOST_DAYS,
    FLOW_IN,
    FLOW_OUT,
    IN_SERVICE,
    MEMBER_RELATIONS,
    MEMBER_TYPES,
    NAME_MAX,
    REGISTRATION,
    RELATION_POCKET,
    RELATION_REGISTERED,
    TRANSFER,
    mask_phone,
    normalize_name,
    normalize_phone,
)
from models.checkin.transfer import TransferEvent, TransferRequest
from models.checkin.views import (
    find_people,
    lost_contact,
    lost_contact_names,
    lost_q,
    scope_q,
    summary,
)

__all__ = [
    "CHECKIN_KINDS",
    "DEFAULT_LOST_DAYS",
    "FLOW_IN",
    "FLOW_OUT",
    "IN_SERVICE",
    "MEMBER_RELATIONS",
    "MEMBER_TYPES",
    "NAME_MAX",
    "REGISTRATION",
    "RELATION_POCKET",
    "RELATION_REGISTERED",
    "TRANSFER",
    "CheckIn",
    "MemberRegistration",
    "TransferEvent",
    "TransferRequest",
    "check_member",
    "erase_person",
    "find_people",
    "lost_contact",
    "lost_contact_names",
    "lost_q",
    "mask_phone",
    "normalize_name",
    "normalize_phone",
    "profile",
    "scope_q",
    "summary",
    "touch",
]
