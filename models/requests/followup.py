"""订单式服务，走出“理想路径”之后：待补充（停表）、回访与重新办理、转单限制、督办、附图。

`FollowUp` is mixed into `ServiceRequest` (request.py): the same conditional
``UPDATE … WHERE status IN (…)`` transitions (`_move`, fed from rules.TRANSITIONS) and
the same `RequestEvent` history, kept here so that the state machine's core stays
readable. The pure parts (停表/续表, 回访 answers and rates) are in rules.py.

closed, no answer in `visit_hours` → visit "none" (未回访; never counted as satisfied)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.errors import DomainError
from models.people import chunked
from models.requests import rules
from models.requests.rules import MAX_FORWARDS, VISIT_CHOICES

# Overdue requests escalated per transaction (bound ids, short locks).
ESCALATE_CHUNK = 500

if TYPE_CHECKING:
    from models.people import Organization, Person
    from models.requests.request import RequestEvent, ServiceRequest


class FollowUp:
    """Rules for ServiceRequest beyond 接单 → 转单 → 回单 (see the module docstring)."""

    # Declared on ServiceRequest; listed here for readers and type checkers.
    id: int
    number: str
    status: str
    org: Organization
    org_id: int
    requester_id: int
    handler_id: int | None
    assignee_org_id: int | None
    due_at: datetime
    workdays: bool
    paused_at: datetime | None
    visit: str
    visit_due_at: datetime | None

    # -- 待补充: ask the requester, the clock stops ----------------------------------
    def resume_changes(self, now: datetime) -> dict[str, Any]:
        """The columns that restart a stopped clock (nothing when it runs)."""
        return rules.resume_changes(self.status, self.due_at, self.paused_at, self.workdays, now)

    async def ask_requester(
        self, question: str, by: Person, *, now: datetime, chat: str = ""
    ) -> FollowUp:
        """待补充：办理人向诉求人提问，办理时限停表，直到诉求人补充。"""
        question = rules.required_text(question, "ask")
        if self.handler_id != by.id and self.status == "in_progress":
            raise DomainError("request_not_handler", number=self.number)
        await self._must_move("ask", by, chat, question[:500], now, paused_at=now)  # type: ignore[attr-defined]
        return self

    async def supplement(
        self, answer: str, by: Person, *, now: datetime, chat: str = ""
    ) -> FollowUp:
        """补充：诉求人回答办理人的问题，办理时限接着走（只补回停表前剩下的时间）。"""
        self.check_requester(by.id)  # type: ignore[attr-defined]
        answer = rules.required_text(answer, "answer")
        if not rules.may(self.status, "answer"):
            raise DomainError("request_not_awaiting", number=self.number, status=self.status)
        won = await self._move(  # type: ignore[attr-defined]
            "answer", by, chat, answer[:1000], now, **self.resume_changes(now)
        )
        if not won:
            raise DomainError("request_not_awaiting", number=self.number, status="in_progress")
        return self

    # -- 回访 -------------------------------------------------------------------------
    async def answer_visit(self, choice: int, by: Person, *, now: datetime, chat: str = "") -> bool:
        """回访：1 满意 2 基本满意 3 不满意。3 reopens the request to its last handler.

        Returns True when the request was reopened. Only the requester, only while the
        visit is open, only once.
        """
        self.check_requester(by.id)  # type: ignore[attr-defined]
        if choice not in VISIT_CHOICES:
            raise DomainError("request_bad_visit", number=self.number)
        answer = VISIT_CHOICES[choice]
        cls = type(self)
        count = await cls.filter(  # type: ignore[attr-defined]
            id=self.id, visit="asked", visit_due_at__gt=now
        ).update(visit=answer, visited_at=now)
        if count != 1:
            fresh = await cls.get(id=self.id)  # type: ignore[attr-defined]
            raise DomainError("request_visit_closed", number=self.number, visit=fresh.visit)
        self.visit = answer
        await self._log("visit", self.status, self.status, by, chat, answer, now)  # type: ignore[attr-defined]
        if choice != 3:
            return False
        await self._must_move("reopen", by, chat, "", now, closed_at=None)  # type: ignore[attr-defined]
        return True

    # -- 转单 guard ---------------------------------------------------------------------
    async def forward_guard(
        self, to_org: Organization, note: str, max_forwards: int = MAX_FORWARDS
    ) -> bool:
        """At most `max_forwards` forwards; sending it back to a unit that held it before
        needs a reason. Returns True for such a return (the parent organisation is told)."""
        earlier = await self.events_of("forward")
        if len(earlier) >= max_forwards:
            raise DomainError("request_forward_limit", number=self.number, limit=max_forwards)
        holders = {self.org_id, *(e.org_id for e in earlier if e.org_id is not None)}
        back = to_org.id in holders and to_org.id != (self.assignee_org_id or self.org_id)
        if back and not note.strip():
            raise DomainError("request_forward_back_reason", number=self.number)
        return back

    # -- 督办 ---------------------------------------------------------------------------
    async def supervise(
        self, demand: str, by: Person, *, now: datetime, chat: str = ""
    ) -> FollowUp:
        """督办：上级组织的党务工作者对未办结的诉求提出要求，办理人会收到。"""
        demand = rules.required_text(demand, "supervise")
        if not rules.may(self.status, "supervise"):
            raise DomainError(
                "request_bad_state", number=self.number, action="supervise", status=self.status
            )
        await self._log("supervise", self.status, self.status, by, chat, demand[:500], now)  # type: ignore[attr-defined]
        return self

    async def escalate_once(self, now: datetime) -> bool:
        """超期督办: the first time an overdue request is seen, record it once."""
        return self.id in await type(self).escalate_many([self.id], now)

    @classmethod
    async def escalate_many(
        cls, ids: Sequence[int], now: datetime, chunk: int = ESCALATE_CHUNK
    ) -> set[int]:
        """超期督办 for the overdue requests `ids`: each still running and not escalated
        yet gets its mark and its history row, both or neither (one transaction per
        `chunk`; the rows locked on PostgreSQL, the database on SQLite). The first
        tick after an upgrade finds thousands: two statements a chunk, not two a request.
        Returns the ids escalated now."""
        from models.requests.events import RequestEvent

        done: set[int] = set()
        for part in chunked(ids, chunk):
            async with in_transaction():
                due = await (
                    cls.filter(  # type: ignore[attr-defined]
                        id__in=part,
                        escalated_at__isnull=True,
                        status__in=rules.transition("escalate").sources,
                    )
                    .select_for_update()
                    .values_list("id", "status")
                )
                if not due:
                    continue
                await cls.filter(id__in=[i for i, _ in due]).update(escalated_at=now)  # type: ignore[attr-defined]
                await RequestEvent.bulk_create(
                    [
                        RequestEvent(
                            request_id=i, action="escalate", from_status=s, to_status=s,
                            created_at=now,
                        )
                        for i, s in due
                    ]
                )  # fmt: skip
            done |= {i for i, _ in due}
        return done

    # -- 附图 ---------------------------------------------------------------------------
    async def attach(
        self, kind: str, media_id: str, url: str, by: Person, *, now: datetime
    ) -> RequestAttachment:
        """Record an image (the platform's media id and/or URL) with the request."""
        if not (media_id or url):
            raise DomainError("request_attach_empty", number=self.number)
        att = await RequestAttachment.create(
            request_id=self.id,
            kind=kind,
            media_id=media_id[:255],
            url=url[:1000],
            by=by,
            created_at=now,
        )
        await self._log("attach", self.status, self.status, by, "", kind, now)  # type: ignore[attr-defined]
        return att

    @classmethod
    async def expire_visits(cls, now: datetime) -> list[ServiceRequest]:
        """未回访: visits whose time ran out; each recorded once, never as satisfied."""
        rows = await cls.filter(visit="asked", visit_due_at__lte=now)  # type: ignore[attr-defined]
        expired = []
        for req in rows:
            count = await cls.filter(id=req.id, visit="asked").update(visit="none")  # type: ignore[attr-defined]
            if count == 1:
                req.visit = "none"
                await req._log("visit_none", req.status, req.status, None, "", "", now)
                expired.append(req)
        return expired

    async def attachments(self) -> list[RequestAttachment]:
        return await RequestAttachment.filter(request_id=self.id).order_by("id")

    async def events_of(self, action: str) -> list[RequestEvent]:
        return await self.events.filter(action=action).order_by("id")  # type: ignore[attr-defined,no-any-return]

    async def count_events(self, action: str) -> int:
        """How many times `action` happened to it (a notice's key counts them)."""
        return await self.events.filter(action=action).count()  # type: ignore[attr-defined,no-any-return]


class RequestAttachment(Model):
    """附图：办理人回单时或诉求人提诉求时发来的图片（平台的 media id 或链接）。"""

    id = fields.IntField(primary_key=True)
    request = fields.ForeignKeyField(
        "models.ServiceRequest", related_name="attachments_rel", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)  # result (回单) / filed (诉求人)
    media_id = fields.CharField(max_length=255, default="")
    url = fields.CharField(max_length=1000, default="")
    by = fields.ForeignKeyField(
        "models.Person", related_name="request_attachments", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "request_attachment"
