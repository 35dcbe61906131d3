"""Who says what in `make bench-scale`: people and rows picked from the generated district.

Read once from the database before the server starts (the bench process opens it, then
closes it). Officer views are sent in a group bound to the officer's organisation (the
way officers use them); personal commands in private chat; writes use rows that the
command can act on (a received request for /接单, an open activity for /报名, …).
"""

from __future__ import annotations

import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from tortoise.expressions import Subquery

from bench.keepalive import frame, post_head
from bench.payloads import ONEBOT_SECRET, ONEBOT_SELF_ID
from bot.db import close_db, init_db
from models.activities import Activity, Signup
from models.checkin import MemberRegistration
from models.people import GroupBinding, Identity, Organization, RoleGrant
from models.requests import ServiceRequest

OFFICER_VIEWS = (
    "/工单",
    "/流动党员",
    "/失联",
    "/党员统计",
    "/三会一课",
    "/排行",
    "/公开",
    "/活动",
    "/广播列表",
    "/待确认",
)
PRIVATE = ("/失联", "/党员统计", "/待确认", "/流动党员", "/工单")  # asked in private chat
MEMBER_VIEWS = (  # (text, in the branch's group?)
    ("/帮助", False),
    ("/我", False),
    ("/活动", True),
    ("/我的活动", False),
    ("/积分", False),
    ("/时间银行", False),
    ("/排行", False),
    ("/我的诉求", False),
    ("/我的信息", False),
    ("/公开", True),
)
RESIDENT_VIEWS = ("/帮助", "/活动", "/公开 XQ", "/我的诉求")
REGISTER = ("/登记", "张明", "13912345678", "XQZB0001", "1", "是")
CODE = "2468"
_ids = itertools.count(int(time.time() * 1000) % 10**12)
_HEAD = post_head("/onebot", {"Content-Type": "application/json", "X-Self-ID": str(ONEBOT_SELF_ID)})
_KEY = ONEBOT_SECRET.encode()


@dataclass(frozen=True)
class Msg:
    user: int
    text: str
    group: int | None = None

    @cached_property
    def _rest(self) -> bytes:
        """The event after its opening `{"time":…,"message_id":…,`, encoded once."""
        event = {
            "self_id": ONEBOT_SELF_ID,
            "post_type": "message",
            "message_type": "group" if self.group else "private",
            "sub_type": "normal" if self.group else "friend",
            "user_id": self.user,
            "message": self.text,
            "raw_message": self.text,
            "font": 0,
            "sender": {"user_id": self.user, "nickname": f"u{self.user}", "role": "member"},
        }
        if self.group:
            event["group_id"] = self.group
        return json.dumps(event, ensure_ascii=False).encode()[1:]

    def request(self) -> bytes:
        """A signed OneBot v11 message event (HTTP request bytes) with a fresh
        message_id (the server deduplicates on it) and time, spliced into the
        pre-encoded rest of the event."""
        body = b'{"time":%d,"message_id":%d,%b' % (int(time.time()), next(_ids), self._rest)
        signature = hmac.digest(_KEY, body, "sha1").hex().encode()  # one C call
        return frame(b"%bX-Signature: sha1=%b\r\n" % (_HEAD, signature), body)


@dataclass
class Case:
    """One row of the table: a command by one kind of user, `samples` messages to send
    (a dialog is a list of messages per sample, each step timed as its own row)."""

    who: str
    label: str
    samples: list[list[Msg]]
    write: bool = False
    steps: tuple[str, ...] = ()


@dataclass
class World:
    cases: list[Case] = field(default_factory=list)
    member_mix: list[Msg] = field(default_factory=list)
    officer_mix: list[Msg] = field(default_factory=list)


async def _officer(kind: str) -> tuple[int, int, Organization]:
    """(QQ of an officer, a group bound to the org, the org) for the first org of `kind`."""
    org = await Organization.filter(kind=kind).order_by("id").first()
    grant = await RoleGrant.filter(role="officer", org_id=org.id).order_by("id").first()
    ident = await Identity.get(person_id=grant.person_id)
    group = await GroupBinding.filter(org_id=org.id).order_by("id").first()
    return int(ident.user_id), int(group.chat_id), org


async def build(url: str, samples: int, now: datetime) -> World:
    await init_db(url)
    try:
        return await _build(samples, now)
    finally:
        await close_db()


async def _build(n: int, now: datetime) -> World:
    """The cases, on the bench's clock (`now`: the activities to come, the check-in)."""
    w = World()
    qq_members = await (
        Identity.filter(platform="onebot", person__relation_status="registered")
        .exclude(person_id__in=Subquery(RoleGrant.filter(role="officer").values("person_id")))
        .order_by("person_id")
        .limit(200)
        .values_list("person_id", "user_id")
    )
    branch_group = {g.org_id: int(g.chat_id) for g in await GroupBinding.filter(org__kind="branch")}
    home = dict(
        await RoleGrant.filter(role="member", person_id__in=[p for p, _ in qq_members]).values_list(
            "person_id", "org_id"
        )
    )
    members = [
        (int(u), branch_group[home[p]]) for p, u in qq_members if home.get(p) in branch_group
    ]
    registered = Subquery(MemberRegistration.all().values("person_id"))
    qq_residents = [
        int(u)
        for u in await Identity.filter(platform="onebot", person__relation_status="")
        .exclude(person_id__in=registered)
        .order_by("-person_id")
        .limit(n + 200)
        .values_list("user_id", flat=True)
    ]

    def rot(msgs: list[Msg]) -> list[list[Msg]]:
        return [[msgs[i % len(msgs)]] for i in range(n)]

    for text, in_group in MEMBER_VIEWS:
        msgs = [Msg(u, text, g if in_group else None) for u, g in members[:50]]
        w.cases.append(Case("member", text, rot(msgs)))
        w.member_mix += msgs
    for text in RESIDENT_VIEWS:
        w.cases.append(Case("resident", text, rot([Msg(u, text) for u in qq_residents[:50]])))
    for kind in ("community", "street", "district"):
        user, group, org = await _officer(kind)
        for text in OFFICER_VIEWS:
            msg = Msg(user, text, None if text in PRIVATE else group)
            w.cases.append(Case(f"officer/{kind}", text, rot([msg])))
            w.officer_mix.append(msg)
    # Writes: a resident files in the community's group; its officer accepts and closes.
    user, group, org = await _officer("community")
    residents = qq_residents[n:]
    w.cases.append(
        Case(
            "resident",
            "/诉求",
            [
                [Msg(residents[i % len(residents)], f"/诉求 {i}号楼道灯坏了，晚上很黑", group)]
                for i in range(n)
            ],
            write=True,
        )
    )
    numbers = await (
        ServiceRequest.filter(status="received", org__path__startswith=org.path)
        .order_by("id")
        .limit(n)
        .values_list("number", flat=True)
    )
    for command, after in (("/接单", ""), ("/回单", " 已修好")):
        samples = [[Msg(user, f"{command} {x}{after}", group)] for x in numbers]
        w.cases.append(Case("officer/community", command, samples, write=True))
    # /报名 and /签到: two activities still to come, which the bench opens to everyone
    # without a seat limit (and the second one for check-in now, with a known code).
    open_acts = await (
        Activity.filter(status="open", signup_deadline__gt=now + timedelta(hours=2))
        .order_by("starts_at")
        .limit(2)
        .values_list("id", flat=True)
    )
    await Activity.filter(id__in=open_acts).update(audience="everyone", capacity=0)
    join_id, attend_id = open_acts[0], open_acts[1]
    signed = set(await Signup.filter(activity_id__in=open_acts).values_list("person_id", flat=True))
    free = [u for u, _ in members if u - 200_000_000 not in signed]
    w.cases.append(
        Case(
            "member",
            "/报名",
            [[Msg(free[i % len(free)], f"/报名 {join_id}")] for i in range(min(n, len(free)))],
            write=True,
        )
    )
    await Activity.filter(id=attend_id).update(
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=3),
        signup_deadline=now - timedelta(minutes=6),
        checkin_code=CODE,
    )
    w.cases.append(
        Case(
            "member",
            "/签到",
            [
                [Msg(free[-1 - i], f"/签到 {attend_id} {CODE}")]
                for i in range(min(n, len(free) // 2))
            ],
            write=True,
        )
    )
    w.cases.append(
        Case(
            "resident",
            "/登记",
            [[Msg(u, t) for t in REGISTER] for u in residents[n : 2 * n]],
            write=True,
            steps=REGISTER,
        )
    )
    return w
