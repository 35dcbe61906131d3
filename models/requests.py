"""订单式服务：诉求（工单）的状态机与全过程记录。

接单 (received) → 做单 (in_progress) → [转单 (forwarded) → 做单]* → 回单 (closed) → 评价 (rated);
received / in_progress → 退回 (rejected).

Every transition is one conditional ``UPDATE … WHERE status IN (…)`` whose row count
decides who won, so two officers accepting at once cannot both succeed, on SQLite or
PostgreSQL. Every transition also writes a `RequestEvent` (who, from which chat, when,
note). Refusals are `DomainError`s; the sentences are in templates/zh_CN/refused.j2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from tortoise import connections, fields
from tortoise.expressions import F, Q, RawSQL
from tortoise.functions import Count, Sum
from tortoise.models import Model

from bot.clock import local, zone
from models.errors import DomainError
from models.people import Organization, Person, orgs_under
from models.request_followup import MAX_FORWARDS, VISIT_HOURS, FollowUp, visit_figures
from models.workdays import Limit, parse_limit
from models.workdays import due as due_after

STATUSES = ("received", "in_progress", "forwarded", "awaiting", "closed", "rated", "rejected")
# awaiting = 待补充: the handler asked the requester; the clock stops (models/request_followup.py).
OPEN_STATUSES = ("received", "in_progress", "forwarded", "awaiting")
DONE_STATUSES = ("closed", "rated")
# Kinds of organisation a request may be forwarded to (转单对象).
FORWARD_KINDS = ("department", "partner")

# Category → time limit in hours (办理时限); bot/config.py [requests] may override.
CATEGORY_HOURS: dict[str, int] = {
    "repair": 72,
    "sanitation": 48,
    "legal": 120,
    "employment": 120,
    "elderly": 72,
    "other": 120,
}
DEFAULT_CATEGORY = "other"
# How long before the deadline the reminder goes out.
REMINDER_LEAD_HOURS = 12
LOW_SCORE = 2
NUMBER_RE = re.compile(r"^Q\d{10}$")


def utcnow() -> datetime:
    return datetime.now(UTC)


def day_start(day: date) -> datetime:
    """00:00 of `day` on the configured clock, in UTC (SQLite compares times as UTC text)."""
    return datetime.combine(day, time(0), zone()).astimezone(UTC)


def month_range(now: datetime) -> tuple[datetime, datetime]:
    """[first day of this month, first day of next month) on the configured clock."""
    d = local(now).date().replace(day=1)
    nxt = (d + timedelta(days=32)).replace(day=1)
    return day_start(d), day_start(nxt)


def guess_category(text: str, keywords: Mapping[str, Iterable[str]]) -> str:
    """The category whose keywords appear most in `text` (first listed wins a tie)."""
    best, hits = DEFAULT_CATEGORY, 0
    for category, words in keywords.items():
        n = sum(1 for w in words if w and w in text)
        if n > hits:
            best, hits = category, n
    return best


class OfficerLike(Protocol):
    def is_officer_of(self, org: Any) -> bool: ...


class RequestCounter(Model):
    """每天一行的编号计数器；在提交诉求的事务里原子加一。"""

    day = fields.CharField(max_length=8, primary_key=True)  # YYMMDD, Asia/Shanghai
    seq = fields.IntField(default=0)

    class Meta:
        table = "request_counter"

    @classmethod
    async def next_number(cls, now: datetime) -> str:
        """Q + YYMMDD + 4-digit sequence of the day; unique under concurrency.

        One upsert statement: the row lock (PostgreSQL) or the write lock (SQLite)
        is held until the caller's transaction ends, so sequences never repeat.
        """
        day = local(now).strftime("%y%m%d")
        conn = connections.get("default")
        postgres = conn.capabilities.dialect == "postgres"
        mark = "$1" if postgres else "?"
        sql = (
            f"INSERT INTO request_counter (day, seq) VALUES ({mark}, 1) "
            "ON CONFLICT (day) DO UPDATE SET seq = request_counter.seq + 1 RETURNING seq"
        )
        rows = await conn.execute_query_dict(sql, [day])
        return f"Q{day}{int(rows[0]['seq']):04d}"


class ServiceRequest(FollowUp, Model):
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
    # Beyond the happy path (rules in models/request_followup.py):
    workdays = fields.BooleanField(default=False)  # due_at was counted in 工作日
    paused_at = fields.DatetimeField(null=True)  # 待补充 since (status awaiting)
    # 回访: "" · asked · satisfied · basic · unsatisfied · none (未回访)
    visit = fields.CharField(max_length=16, default="", db_index=True)
    visit_due_at = fields.DatetimeField(null=True)
    visited_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)  # 超期督办 sent (once)

    class Meta:
        table = "service_request"
        indexes = (
            ("org_id", "created_at"),
            ("requester_id", "created_at"),
            ("status", "due_at"),  # 待办 and deadline reminders, earliest due first (#15)
            ("assignee_org_id", "status"),  # what was forwarded into a subtree (#15)
            ("closed_at",),  # 公开: this month's figures (#15)
            ("rejected_at",),
        )

    # -- filing ---------------------------------------------------------------
    @classmethod
    async def file(
        cls,
        org: Organization,
        requester: Person,
        content: str,
        *,
        category: str = DEFAULT_CATEGORY,
        place: str = "",
        contact: str = "",
        reply_target: str = "",
        chat: str = "",
        hours: Mapping[str, int | str | Limit] | None = None,
        now: datetime | None = None,
    ) -> ServiceRequest:
        """提交诉求：取号、定办理时限（小时或工作日）、记第一条过程。Call inside a transaction."""
        now = now or utcnow()
        content = content.strip()
        if not content:
            raise DomainError("request_empty")
        if len(content) > 1000:
            raise DomainError("request_too_long", limit=1000)
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

    # -- who may act ------------------------------------------------------------
    def responsible_orgs(self) -> list[Organization]:
        """The request's organisation, plus the unit it was forwarded to (if any)."""
        orgs = [self.org]
        if self.assignee_org_id is not None:
            orgs.append(self.assignee_org)
        return orgs

    def check_officer(self, caller: OfficerLike) -> None:
        """Officers of the request's org or above it, or of the unit it was forwarded to."""
        if not any(caller.is_officer_of(o) for o in self.responsible_orgs()):
            raise DomainError("request_not_your_scope", number=self.number, org_name=self.org.name)

    def check_requester(self, person_id: int | None) -> None:
        if person_id is None or person_id != self.requester_id:
            raise DomainError("request_not_requester", number=self.number)

    # -- transitions --------------------------------------------------------------
    async def accept(
        self, officer: Person, *, chat: str = "", now: datetime | None = None
    ) -> ServiceRequest:
        """做单：受理（received）或转来的（forwarded）工单由这位党务工作者办理。"""
        now = now or utcnow()
        won = await self._move(
            "accept",
            ("received", "forwarded"),
            "in_progress",
            officer,
            chat,
            "",
            now,
            handler_id=officer.id,
            accepted_at=now,
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
        chat: str = "",
        now: datetime | None = None,
        max_forwards: int = MAX_FORWARDS,
    ) -> ServiceRequest:
        """转单：交给街道科室或社会组织（department / partner）办理；退回原来办过的单位要写明
        理由（`forwarded_back`，上级组织会知道），最多转 `max_forwards` 次；时限不因转单重算。"""
        self.forwarded_back = await self.forward_guard(to_org, note, max_forwards)
        if to_org.kind not in FORWARD_KINDS and not self.forwarded_back:
            raise DomainError("request_forward_kind", org_name=to_org.name, org_code=to_org.code)
        if to_org.id == self.assignee_org_id and self.status == "forwarded":
            raise DomainError("request_forward_same", number=self.number, org_name=to_org.name)
        await self._must_move(
            "forward",
            ("received", "in_progress"),  # 派单 straight from received (README's diagram)
            "forwarded",
            by,
            chat,
            note.strip(),
            now,
            assignee_org_id=to_org.id,
        )
        self.assignee_org = to_org
        return self

    async def close(
        self,
        result: str,
        by: Person,
        *,
        chat: str = "",
        now: datetime | None = None,
        visit_hours: float = VISIT_HOURS,
    ) -> ServiceRequest:
        """回单：写明办理结果，结束办理；回访开始，诉求人有 `visit_hours` 小时回答。"""
        now = now or utcnow()
        result = result.strip()
        if not result:
            raise DomainError("request_need_text", action="close")
        await self._must_move(
            "close",
            ("in_progress", "awaiting"),
            "closed",
            by,
            chat,
            result,
            now,
            result=result,
            closed_at=now,
            **self.resume_changes(now),
            **self.visit_changes(now, visit_hours),
        )
        return self

    async def reject(
        self, reason: str, by: Person, *, chat: str = "", now: datetime | None = None
    ) -> ServiceRequest:
        """退回：不予受理或无法办理，写明原因。"""
        now = now or utcnow()
        reason = reason.strip()
        if not reason:
            raise DomainError("request_need_text", action="reject")
        await self._must_move(
            "reject",
            ("received", "in_progress", "awaiting"),
            "rejected",
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
        self,
        score: int,
        comment: str,
        by: Person,
        *,
        chat: str = "",
        now: datetime | None = None,
    ) -> ServiceRequest:
        """满意度评价：只有提出人、只在回单之后、只评一次、1–5 分。"""
        self.check_requester(by.id)
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise DomainError("request_bad_score", score=score)
        now = now or utcnow()
        comment = comment.strip()[:500]
        won = await self._move(
            "rate",
            ("closed",),
            "rated",
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

    async def urge(
        self, by: Person, *, chat: str = "", now: datetime | None = None
    ) -> ServiceRequest:
        """催办：提出人对未办结的工单催一次，每个自然日（北京时间）最多一次。"""
        self.check_requester(by.id)
        now = now or utcnow()
        if self.status not in OPEN_STATUSES:
            self._refuse("urge", self.status)
        today = day_start(local(now).date())
        count = await ServiceRequest.filter(
            Q(id=self.id),
            Q(status__in=OPEN_STATUSES),
            Q(last_urged_at__isnull=True) | Q(last_urged_at__lt=today),
        ).update(last_urged_at=now, urge_count=F("urge_count") + 1)
        if count != 1:
            fresh = await ServiceRequest.get(id=self.id)
            if fresh.status not in OPEN_STATUSES:
                self._refuse("urge", fresh.status)
            raise DomainError("request_urged_today", number=self.number)
        await self._log("urge", self.status, self.status, by, chat, "", now)
        self.last_urged_at = now
        self.urge_count += 1
        return self

    # -- reading ----------------------------------------------------------------
    @classmethod
    async def queue(
        cls, paths: list[str] | None, me: int | None, page: int, size: int, now: datetime
    ) -> tuple[list[ServiceRequest], int, int, int]:
        """待办: the open requests of the subtrees at `paths` or forwarded into them (None:
        all), earliest due first. Returns (this page, total, overdue, mine), counted by
        the database rather than by loading a district's thousands of rows."""
        query = cls.filter(status__in=OPEN_STATUSES)
        if paths is not None:
            query = query.filter(scope_q(paths))
        # is_overdue in SQL: a paused clock (待补充) stands still at paused_at.
        late = Q(paused_at__isnull=True, due_at__lt=now) | Q(
            paused_at__isnull=False, due_at__lt=F("paused_at")
        )
        counts = (
            await query.annotate(
                total=Count("id"),
                overdue=Count("id", _filter=late),
                mine=Count("id", _filter=Q(handler_id=me if me is not None else -1)),
            ).values("total", "overdue", "mine")
        )[0]
        rows = (
            await query.order_by("due_at", "id")
            .offset((page - 1) * size)
            .limit(size)
            .select_related("handler")
        )
        return rows, counts["total"], counts["overdue"] or 0, counts["mine"] or 0

    def is_overdue(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        if self.status in OPEN_STATUSES:
            return self.due_at < (self.paused_at or now)  # a paused clock stands still
        if self.closed_at is not None:
            return self.closed_at > self.due_at
        return False

    async def history(self) -> list[RequestEvent]:
        return (
            await RequestEvent.filter(request_id=self.id)
            .select_related("actor")
            .order_by("created_at", "id")
        )

    # -- internals ----------------------------------------------------------------
    def _refuse(self, action: str, status: str) -> None:
        raise DomainError("request_bad_state", number=self.number, action=action, status=status)

    async def _must_move(
        self,
        action: str,
        sources: tuple[str, ...],
        target: str,
        by: Person,
        chat: str,
        note: str,
        now: datetime | None,
        **changes: Any,
    ) -> None:
        if not await self._move(
            action, sources, target, by, chat, note, now or utcnow(), **changes
        ):
            fresh = await ServiceRequest.get(id=self.id)
            self._refuse(action, fresh.status)

    async def _move(
        self,
        action: str,
        sources: tuple[str, ...],
        target: str,
        by: Person,
        chat: str,
        note: str,
        now: datetime,
        **changes: Any,
    ) -> bool:
        """Conditional UPDATE: True when this call moved the request (exactly one row)."""
        count = await ServiceRequest.filter(id=self.id, status__in=sources).update(
            status=target, **changes
        )
        if count != 1:
            return False
        before = self.status if self.status in sources else sources[0]
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


class RequestEvent(Model):
    """工单全过程的一步：谁、在哪个会话、什么时候、做了什么、备注。"""

    id = fields.BigIntField(primary_key=True)
    request = fields.ForeignKeyField(
        "models.ServiceRequest", related_name="events", on_delete=fields.CASCADE
    )
    # filed accept forward close reject rate urge; ask answer visit visit_none reopen
    # supervise escalate attach (models/request_followup.py)
    action = fields.CharField(max_length=16)
    from_status = fields.CharField(max_length=16, default="")
    to_status = fields.CharField(max_length=16)
    actor = fields.ForeignKeyField(
        "models.Person", related_name="request_events", null=True, on_delete=fields.SET_NULL
    )
    # For a forward: the unit it went to.
    org = fields.ForeignKeyField(
        "models.Organization", related_name="request_events", null=True, on_delete=fields.SET_NULL
    )
    chat = fields.CharField(max_length=191, default="")
    note = fields.TextField(default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "request_event"
        indexes = (("request_id", "created_at"), ("action", "created_at"))  # 回访 figures


def scope_q(paths: list[str]) -> Q:
    """Requests that officers of these organisations look after: filed there or forwarded
    there (the officer queue, in chat and on the workbench)."""
    orgs = orgs_under(paths)  # a subquery: no join per row, no list of ids (#15)
    return Q(org_id__in=orgs) | Q(assignee_org_id__in=orgs)


# -- statistics (党务公开) --------------------------------------------------------
# Mean hours from filing to closing, per dialect (stored times are UTC).
AVG_HOURS = {
    "sqlite": "AVG((julianday(closed_at) - julianday(created_at)) * 24)",
    "postgres": "AVG(EXTRACT(EPOCH FROM (closed_at - created_at)) / 3600)",
}


async def monthly_figures(org: Organization, now: datetime | None = None) -> dict[str, Any]:
    """This month's figures for `org` and its subtree (Asia/Shanghai month).

    received: filed this month · rejected: rejected this month · closed: closed this month
    · on_time_pct: of those closed, share closed by the due time · avg_hours: mean hours
    from filing to closing of those closed · avg_score: mean score of those closed that
    were rated · by_category: received / closed per category.
    """
    now = now or utcnow()
    start, end = month_range(now)
    # Counted and averaged by the database: a district's month is tens of thousands.
    mine = ServiceRequest.filter(org_id__in=orgs_under([org.path]))
    filed = mine.filter(created_at__gte=start, created_at__lt=end)
    closed = mine.filter(closed_at__gte=start, closed_at__lt=end)
    rejected = await mine.filter(rejected_at__gte=start, rejected_at__lt=end).count()
    dialect = connections.get("default").capabilities.dialect
    agg = (
        await closed.annotate(
            n=Count("id"),
            on_time=Count("id", _filter=Q(closed_at__lte=F("due_at"))),
            rated=Count("score"),
            score_sum=Sum("score"),
            hours=RawSQL(AVG_HOURS["postgres" if dialect == "postgres" else "sqlite"]),
        ).values("n", "on_time", "rated", "score_sum", "hours")
    )[0]
    categories: dict[str, dict[str, int]] = {}
    for query, key in ((filed, "received"), (closed, "closed")):
        for row in await query.annotate(k=Count("id")).group_by("category").values("category", "k"):
            categories.setdefault(row["category"], {"received": 0, "closed": 0})[key] = row["k"]
    n, rated = agg["n"] or 0, agg["rated"] or 0
    return {
        "month": local(start),
        "received": sum(v["received"] for v in categories.values()),
        "closed": n,
        "rejected": rejected,
        "on_time_pct": round(100 * agg["on_time"] / n, 1) if n else None,
        "avg_hours": round(float(agg["hours"]), 1) if n and agg["hours"] is not None else None,
        "avg_score": round(agg["score_sum"] / rated, 2) if rated else None,
        "rated": rated,
        **await visit_figures(org.path, start, end),
        "by_category": [
            (c, categories[c])
            for c in [*CATEGORY_HOURS, *sorted(set(categories) - set(CATEGORY_HOURS))]
            if c in categories
        ],
    }
