"""订单式服务，走出“理想路径”之后：待补充（停表）、回访与重新办理、转单限制、督办、附图。

`FollowUp` is mixed into `models.requests.ServiceRequest`: the same conditional
``UPDATE … WHERE status IN (…)`` transitions (`_move`) and the same `RequestEvent`
history, kept here so that the state machine's core stays readable.

in_progress ─/待补充→ awaiting ─/补充→ in_progress   (the clock stops while awaiting)
closed ─回访 1/2→ (stays) · ─回访 3→ in_progress (reopened, same handler)
closed, no answer in `visit_hours` → visit "none" (未回访; never counted as satisfied)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.errors import DomainError
from models.workdays import Limit, parse_limit, resume_due

if TYPE_CHECKING:
    from models.people import Organization, Person

# Statuses whose clock runs (待补充 stops it).
RUNNING_STATUSES = ("received", "in_progress", "forwarded")
VISIT_CHOICES = {1: "satisfied", 2: "basic", 3: "unsatisfied"}
VISIT_ANSWERS = tuple(VISIT_CHOICES.values())
# Defaults; bot/config.py [requests] overrides them.
VISIT_HOURS = 48.0
MAX_FORWARDS = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


def visit_choice(answer: str) -> int | None:
    """1 / 2 / 3, or the words themselves (满意 / 基本满意 / 不满意)."""
    words = {"满意": 1, "基本满意": 2, "不满意": 3}
    a = answer.strip().rstrip("。.!！")
    if a in ("1", "2", "3"):
        return int(a)
    return words.get(a)


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
        if self.status != "awaiting" or self.paused_at is None:
            return {}
        return {
            "paused_at": None,
            "due_at": resume_due(self.due_at, self.paused_at, now, self.workdays),
        }

    async def ask_requester(
        self, question: str, by: Person, *, chat: str = "", now: datetime | None = None
    ) -> FollowUp:
        """待补充：办理人向诉求人提问，办理时限停表，直到诉求人补充。"""
        question = question.strip()
        if not question:
            raise DomainError("request_need_text", action="ask")
        if self.handler_id != by.id and self.status == "in_progress":
            raise DomainError("request_not_handler", number=self.number)
        now = now or utcnow()
        await self._must_move(  # type: ignore[attr-defined]
            "ask", ("in_progress",), "awaiting", by, chat, question[:500], now, paused_at=now
        )
        return self

    async def supplement(
        self, answer: str, by: Person, *, chat: str = "", now: datetime | None = None
    ) -> FollowUp:
        """补充：诉求人回答办理人的问题，办理时限接着走（只补回停表前剩下的时间）。"""
        self.check_requester(by.id)  # type: ignore[attr-defined]
        answer = answer.strip()
        if not answer:
            raise DomainError("request_need_text", action="answer")
        now = now or utcnow()
        if self.status != "awaiting":
            raise DomainError("request_not_awaiting", number=self.number, status=self.status)
        won = await self._move(  # type: ignore[attr-defined]
            "answer",
            ("awaiting",),
            "in_progress",
            by,
            chat,
            answer[:1000],
            now,
            **self.resume_changes(now),
        )
        if not won:
            raise DomainError("request_not_awaiting", number=self.number, status="in_progress")
        return self

    # -- 回访 -------------------------------------------------------------------------
    @staticmethod
    def visit_changes(now: datetime, hours: float) -> dict[str, Any]:
        """回单 starts a return visit: the requester has `hours` to answer."""
        return {"visit": "asked", "visit_due_at": now + timedelta(hours=hours), "visited_at": None}

    async def answer_visit(
        self, choice: int, by: Person, *, chat: str = "", now: datetime | None = None
    ) -> bool:
        """回访：1 满意 2 基本满意 3 不满意。3 reopens the request to its last handler.

        Returns True when the request was reopened. Only the requester, only while the
        visit is open, only once.
        """
        self.check_requester(by.id)  # type: ignore[attr-defined]
        if choice not in VISIT_CHOICES:
            raise DomainError("request_bad_visit", number=self.number)
        now = now or utcnow()
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
        await self._must_move(  # type: ignore[attr-defined]
            "reopen", ("closed", "rated"), "in_progress", by, chat, "", now, closed_at=None
        )
        return True

    # -- 转单 guard ---------------------------------------------------------------------
    async def forward_guard(
        self, to_org: Organization, note: str, max_forwards: int = MAX_FORWARDS
    ) -> bool:
        """At most `max_forwards` forwards; sending it back to a unit that held it before
        needs a reason. Returns True for such a return (the parent organisation is told)."""
        from models.requests import RequestEvent

        earlier = await RequestEvent.filter(request_id=self.id, action="forward").order_by("id")
        if len(earlier) >= max_forwards:
            raise DomainError("request_forward_limit", number=self.number, limit=max_forwards)
        holders = {self.org_id, *(e.org_id for e in earlier if e.org_id is not None)}
        back = to_org.id in holders and to_org.id != (self.assignee_org_id or self.org_id)
        if back and not note.strip():
            raise DomainError("request_forward_back_reason", number=self.number)
        return back

    # -- 督办 ---------------------------------------------------------------------------
    def check_supervisor(self, caller: Any) -> None:
        """An officer of an organisation above the request's (or an admin) may 督办."""
        above = [
            o
            for o in caller.officer_orgs()
            if self.org.path.startswith(o.path) and o.path != self.org.path
        ]
        if not (above or caller.is_admin):
            raise DomainError("request_not_supervisor", number=self.number)

    async def supervise(
        self, demand: str, by: Person, *, chat: str = "", now: datetime | None = None
    ) -> FollowUp:
        """督办：上级组织的党务工作者对未办结的诉求提出要求，办理人会收到。"""
        demand = demand.strip()
        if not demand:
            raise DomainError("request_need_text", action="supervise")
        from models.requests import OPEN_STATUSES

        if self.status not in OPEN_STATUSES:
            raise DomainError(
                "request_bad_state", number=self.number, action="supervise", status=self.status
            )
        now = now or utcnow()
        await self._log("supervise", self.status, self.status, by, chat, demand[:500], now)  # type: ignore[attr-defined]
        return self

    async def escalate_once(self, now: datetime) -> bool:
        """超期督办: the first time an overdue request is seen, record it once."""
        cls = type(self)
        count = await cls.filter(  # type: ignore[attr-defined]
            id=self.id, escalated_at__isnull=True, status__in=RUNNING_STATUSES
        ).update(escalated_at=now)
        if count != 1:
            return False
        await self._log("escalate", self.status, self.status, None, "", "", now)  # type: ignore[attr-defined]
        return True

    # -- 附图 ---------------------------------------------------------------------------
    async def attach(
        self, kind: str, media_id: str, url: str, by: Person, *, now: datetime | None = None
    ) -> RequestAttachment:
        """Record an image (the platform's media id and/or URL) with the request."""
        if not (media_id or url):
            raise DomainError("request_attach_empty", number=self.number)
        now = now or utcnow()
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

    async def attachments(self) -> list[RequestAttachment]:
        return await RequestAttachment.filter(request_id=self.id).order_by("id")


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


async def expire_visits(now: datetime) -> list[Any]:
    """未回访: visits whose time ran out; each recorded once, never as satisfied."""
    from models.requests import ServiceRequest

    rows = await ServiceRequest.filter(visit="asked", visit_due_at__lte=now)
    expired = []
    for req in rows:
        count = await ServiceRequest.filter(id=req.id, visit="asked").update(visit="none")
        if count == 1:
            req.visit = "none"
            await req._log("visit_none", req.status, req.status, None, "", "", now)
            expired.append(req)
    return expired


async def visit_figures(org_path: str, start: datetime, end: datetime) -> dict[str, Any]:
    """回访率 and satisfaction of the return visits that ended in [start, end), from the
    history (a request reopened and closed again has two visits). Only answers count:
    a visit nobody answered (未回访) lowers the answer rate, never the satisfaction."""
    from models.requests import RequestEvent

    events = await RequestEvent.filter(
        action__in=("visit", "visit_none"),
        created_at__gte=start,
        created_at__lt=end,
        request__org__path__startswith=org_path,
    ).values_list("action", "note")
    answers = [note for action, note in events if action == "visit"]
    happy = [a for a in answers if a in ("satisfied", "basic")]
    return {
        "visits_answered": len(answers),
        "visits_ended": len(events),
        "visit_rate_pct": round(100 * len(answers) / len(events), 1) if events else None,
        "satisfied_pct": round(100 * len(happy) / len(answers), 1) if answers else None,
    }


def category_limits(
    defaults: Mapping[str, int],
    hours: Mapping[str, int],
    limits: Mapping[str, str],
    names: Mapping[str, str],
) -> dict[str, Limit]:
    """Category → time limit: the defaults, then [requests] hours, then [requests] limits
    ("3工作日"). A category may be named by its key (repair) or its Chinese name (维修)."""
    key_of = {name: key for key, name in names.items()}
    out = {key: parse_limit(value) for key, value in defaults.items()}
    for table in (hours, limits):
        for name, value in table.items():
            out[key_of.get(name, name)] = parse_limit(value)
    return out
