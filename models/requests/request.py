"""订单式服务：诉求（工单）与它的全过程记录。

Every transition is one conditional ``UPDATE … WHERE status IN (…)`` whose row count
decides who won, so two officers accepting at once cannot both succeed, on SQLite or
PostgreSQL; the statuses come from the transition table in rules.py. Every transition
also writes a `RequestEvent` (who, from which chat, when, note). Refusals are
`DomainError`s; the sentences are in templates/zh_CN/refused.j2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tortoise import fields
from tortoise.expressions import F, Q
from tortoise.models import Model

from bot.clock import day_start, local
from models.errors import DomainError
from models.people import Organization, Person
from models.requests.access import Access
from models.requests.events import RequestCounter, RequestEvent
from models.requests.followup import FollowUp
from models.requests.queries import Queries
from models.requests.rules import (
    CATEGORY_HOURS,
    DEFAULT_CATEGORY,
    FORWARD_KINDS,
    LOW_SCORE,
    MAX_CONTENT,
    MAX_FORWARDS,
    VISIT_HOURS,
    required_text,
    transition,
    visit_changes,
)
from models.requests.rules import is_overdue as overdue_rule
from models.workdays import Limit, parse_limit
from models.workdays import due as due_after

NUMBER_RE = re.compile(r"^Q\d{10}$")


class ServiceRequest(Access, FollowUp, Queries, Model):
    """一张诉求工单（订单式服务）。"""

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=16, unique=True)
    org = fields.ForeignKeyField(
        "models.Organization", related_name="service_requests", on_delete=fields.RESTRICT
    )
    requester = fields.ForeignKeyField(
        "models.Person", related_name="service_requests", on_delete=fields.RESTRICT
    )
    category = fields.CharField(max_length=16, default=DEFAULT_CATEGORY)
    content = fields.TextField()
    place = fields.CharField(max_length=200, default="")
    contact = fields.CharField(max_length=64, default="")
    status = fields.CharField(max_length=16, default="received", db_index=True)
    # Where the requester filed it ("console:alice", "onebot-group:123"): replies go there.
    reply_target = fields.CharField(max_length=191, default="")
    # The officer who accepted it last (做单).
    handler = fields.ForeignKeyField(
        "models.Person", related_name="handled_requests", null=True, on_delete=fields.SET_NULL
    )
    # The unit it was forwarded to last (转单对象).
    assignee_org = fields.ForeignKeyField(
        "models.Organization",
        related_name="forwarded_requests",
        null=True,
        on_delete=fields.SET_NULL,
    )
    result = fields.TextField(null=True)  # 回单结果 or 退回原因
    score = fields.IntField(null=True)
    rating_comment = fields.TextField(null=True)
    urge_count = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    rejected_at = fields.DatetimeField(null=True)
    rated_at = fields.DatetimeField(null=True)
    last_urged_at = fields.DatetimeField(null=True)
    # Beyond the happy path (rules in followup.py):
    workdays = fields.BooleanField(default=False, db_default=False)  # due_at was counted in 工作日
    paused_at = fields.DatetimeField(null=True)  # 待补充 since (status awaiting)
    # 回访: "" · asked · satisfied · basic · unsatisfied · none (未回访)
    visit = fields.CharField(max_length=16, default="", db_default="", db_index=True)
    visit_due_at = fields.DatetimeField(null=True)
    visited_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)  # 超期督办 sent (once)
    # The deadline reminder whose deliveries are all written: "" · due_soon · overdue;
    # cleared by every transition (models/requests/reminders.py).
    reminded = fields.CharField(max_length=16, default="", db_default="")

    class Meta:
        table = "service_request"
        indexes = (
            ("org_id", "created_at"),
            ("requester_id", "created_at"),
            ("status", "due_at"),  # 待办, earliest due first (#15)
            # …with what the queue filters and counts by: its page and its counts read
            # the index alone, not a district's thousands of open rows (#15)
            ("status", "due_at", "id", "org_id", "assignee_org_id", "handler_id", "paused_at"),
            ("status", "reminded", "due_at"),  # deadline reminders still to send (#15)
            ("assignee_org_id", "status"),  # what was forwarded into a subtree (#15)
            ("closed_at",),  # 公开: this month's figures (#15)
            ("rejected_at",),
            # …of one community or branch: on SQLite, planned by the sampled statistics,
            # the month's closed_at range won over org_id (45 ms for a branch by the
            # month's end; 1 ms with these)
            ("org_id", "closed_at"),
            ("org_id", "rejected_at"),
            # …and of what was forwarded into it: the workbench's month figures ask
            # org_id OR assignee_org_id, which SQLite looks up by index only when both
            # sides can take the month's range (25 ms → 1 ms for a community)
            ("assignee_org_id", "created_at"),
            ("assignee_org_id", "closed_at"),
            ("handler_id", "due_at"),  # the workbench's 我的 queue, earliest due first (#13)
        )

    # -- filing ---------------------------------------------------------------
    @classmethod
    async def file(
        cls,
        org: Organization,
        requester: Person,
        content: str,
        *,
        now: datetime,
        category: str = DEFAULT_CATEGORY,
        place: str = "",
        contact: str = "",
        reply_target: str = "",
        chat: str = "",
        hours: Mapping[str, int | str | Limit] | None = None,
    ) -> ServiceRequest:
        """提交诉求：取号、定办理时限（小时或工作日）、记第一条过程。Call inside a transaction."""
        content = cls.valid_content(content)
        limits = hours or CATEGORY_HOURS
        if category not in limits:
            category = DEFAULT_CATEGORY
        number = await RequestCounter.next_number(now)
        limit = parse_limit(limits.get(category, CATEGORY_HOURS[DEFAULT_CATEGORY]))
        req = await cls.create(
            number=number,
            org=org,
            requester=requester,
            category=category,
            content=content,
            place=place.strip()[:200],
            contact=contact.strip()[:64],
            reply_target=reply_target[:191],
            created_at=now,
            due_at=due_after(now, limit),
            workdays=limit.workdays,
        )
        await req._log("filed", None, "received", requester, chat, "", now)
        return req

    @staticmethod
    def valid_content(content: str) -> str:
        """What a request says, stripped; DomainError when empty or too long."""
        content = content.strip()
        if not content:
            raise DomainError("request_empty")
        if len(content) > MAX_CONTENT:
            raise DomainError("request_too_long", limit=MAX_CONTENT)
        return content

    @classmethod
    async def by_number(cls, number: str) -> ServiceRequest:
        code = number.strip().upper()
        req = (
            await cls.filter(number=code).select_related("org", "assignee_org", "handler").first()
            if NUMBER_RE.match(code)
            else None
        )
        if req is None:
            raise DomainError("request_unknown", number=code)
        return req

    # -- transitions --------------------------------------------------------------
    async def accept(self, officer: Person, *, now: datetime, chat: str = "") -> ServiceRequest:
        """做单：受理（received）或转来的（forwarded）工单由这位党务工作者办理。"""
        won = await self._move(
            "accept", officer, chat, "", now, handler_id=officer.id, accepted_at=now
        )
        if not won:
            fresh = await ServiceRequest.get(id=self.id).select_related("handler")
            if fresh.status == "in_progress" and fresh.handler is not None:
                raise DomainError(
                    "request_taken",
                    number=self.number,
                    handler_name=fresh.handler.name,
                    mine=fresh.handler_id == officer.id,
                )
            self._refuse("accept", fresh.status)
        self.handler = officer
        return self

    async def forward(
        self,
        to_org: Organization,
        note: str,
        by: Person,
        *,
        now: datetime,
        chat: str = "",
        max_forwards: int = MAX_FORWARDS,
    ) -> ServiceRequest:
        """转单：交给街道科室或社会组织（department / partner）办理；退回原来办过的单位要写明
        理由（`forwarded_back`，上级组织会知道），最多转 `max_forwards` 次；时限不因转单重算。"""
        self.forwarded_back = await self.forward_guard(to_org, note, max_forwards)
        if to_org.kind not in FORWARD_KINDS and not self.forwarded_back:
            raise DomainError("request_forward_kind", org_name=to_org.name, org_code=to_org.code)
        if to_org.id == self.assignee_org_id and self.status == "forwarded":
            raise DomainError("request_forward_same", number=self.number, org_name=to_org.name)
        await self._must_move("forward", by, chat, note.strip(), now, assignee_org_id=to_org.id)
        self.assignee_org = to_org
        return self

    async def close(
        self,
        result: str,
        by: Person,
        *,
        now: datetime,
        chat: str = "",
        visit_hours: float = VISIT_HOURS,
    ) -> ServiceRequest:
        """回单：写明办理结果，结束办理；回访开始，诉求人有 `visit_hours` 小时回答。"""
        result = required_text(result, "close")
        await self._must_move(
            "close",
            by,
            chat,
            result,
            now,
            result=result,
            closed_at=now,
            **self.resume_changes(now),
            **visit_changes(now, visit_hours),
        )
        return self

    async def reject(
        self, reason: str, by: Person, *, now: datetime, chat: str = ""
    ) -> ServiceRequest:
        """退回：不予受理或无法办理，写明原因。"""
        reason = required_text(reason, "reject")
        await self._must_move(
            "reject",
            by,
            chat,
            reason,
            now,
            result=reason,
            rejected_at=now,
            **self.resume_changes(now),
        )
        return self

    async def rate(
        self, score: int, comment: str, by: Person, *, now: datetime, chat: str = ""
    ) -> ServiceRequest:
        """满意度评价：只有提出人、只在回单之后、只评一次、1–5 分。"""
        self.check_requester(by.id)
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise DomainError("request_bad_score", score=score)
        comment = comment.strip()[:500]
        won = await self._move(
            "rate",
            by,
            chat,
            f"{score} {comment}".strip(),
            now,
            score=score,
            rating_comment=comment,
            rated_at=now,
        )
        if not won:
            fresh = await ServiceRequest.get(id=self.id)
            if fresh.status == "rated":
                raise DomainError("request_already_rated", number=self.number, score=fresh.score)
            self._refuse("rate", fresh.status)
        return self

    @property
    def low_score(self) -> bool:
        return self.score is not None and self.score <= LOW_SCORE

    async def urge(self, by: Person, *, now: datetime, chat: str = "") -> ServiceRequest:
        """催办：提出人对未办结的工单催一次，每个自然日（北京时间）最多一次。"""
        self.check_requester(by.id)
        sources = transition("urge").sources
        if self.status not in sources:
            self._refuse("urge", self.status)
        today = day_start(local(now).date())
        count = await ServiceRequest.filter(
            Q(id=self.id),
            Q(status__in=sources),
            Q(last_urged_at__isnull=True) | Q(last_urged_at__lt=today),
        ).update(last_urged_at=now, urge_count=F("urge_count") + 1)
        if count != 1:
            fresh = await ServiceRequest.get(id=self.id)
            if fresh.status not in sources:
                self._refuse("urge", fresh.status)
            raise DomainError("request_urged_today", number=self.number)
        await self._log("urge", self.status, self.status, by, chat, "", now)
        self.last_urged_at = now
        self.urge_count += 1
        return self

    def is_overdue(self, now: datetime) -> bool:
        return overdue_rule(self.status, self.due_at, self.paused_at, self.closed_at, now)

    # -- internals ----------------------------------------------------------------
    def _refuse(self, action: str, status: str) -> None:
        raise DomainError("request_bad_state", number=self.number, action=action, status=status)

    async def _must_move(
        self, action: str, by: Person, chat: str, note: str, now: datetime, **changes: Any
    ) -> None:
        if not await self._move(action, by, chat, note, now, **changes):
            fresh = await ServiceRequest.get(id=self.id)
            self._refuse(action, fresh.status)

    async def _move(
        self, action: str, by: Person, chat: str, note: str, now: datetime, **changes: Any
    ) -> bool:
        """Conditional UPDATE fed from the transition table: True when this call moved the
        request (exactly one row had one of the action's source statuses)."""
        move = transition(action)
        target = move.target or self.status
        changes.setdefault("reminded", "")  # a new holder or due time: a new due point
        count = await ServiceRequest.filter(id=self.id, status__in=move.sources).update(
            status=target, **changes
        )
        if count != 1:
            return False
        before = self.status if self.status in move.sources else move.sources[0]
        self.status = target
        for key, value in changes.items():
            setattr(self, key, value)
        await self._log(action, before, target, by, chat, note, now)
        return True

    async def _log(
        self,
        action: str,
        from_status: str | None,
        to_status: str,
        by: Person | None,
        chat: str,
        note: str,
        now: datetime,
    ) -> RequestEvent:
        return await RequestEvent.create(
            request_id=self.id,
            action=action,
            from_status=from_status or "",
            to_status=to_status,
            actor=by,
            chat=chat[:191],
            note=note,
            org_id=self.assignee_org_id if action == "forward" else None,
            created_at=now,
        )
