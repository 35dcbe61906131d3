"""诉求的查询：待办队列、我的诉求、全过程、提诉求的会话、附图归属、时限提醒的候选。

`Queries` is mixed into `ServiceRequest` (request.py). Counting is the database's:
a district's queue is thousands of rows (#15).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tortoise.expressions import F, Q
from tortoise.functions import Count

from bot.db import CountOverAll, rows_in_order
from models.people import Identity, Organization, officer_targets, person_targets
from models.people import scope_q as people_scope_q
from models.requests.rules import OPEN_STATUSES

if TYPE_CHECKING:
    from models.requests.request import RequestEvent, ServiceRequest


class Queries:
    id: int
    requester_id: int
    handler_id: int | None
    reply_target: str
    org: Organization

    def holder(self) -> Organization: ...  # Access's (access.py)

    @staticmethod
    def scope_q(paths: Iterable[str]) -> Q:
        """Requests that officers of these organisations look after: filed there or
        forwarded there (the officer queue, in chat and on the workbench)."""
        return people_scope_q(paths, "org_id", "assignee_org_id")

    @classmethod
    async def queue(
        cls, paths: list[str] | None, me: int | None, page: int, size: int, now: datetime
    ) -> tuple[list[ServiceRequest], int, int, int]:
        """待办: the open requests of the subtrees at `paths` or forwarded into them (None:
        all), earliest due first. Returns (this page, total, overdue, mine), counted by
        the database rather than by loading a district's thousands of rows."""
        query = cls.filter(status__in=OPEN_STATUSES)  # type: ignore[attr-defined]
        if paths is not None:
            query = query.filter(cls.scope_q(paths))
        # is_overdue in SQL: a paused clock (待补充) stands still at paused_at.
        late = Q(paused_at__isnull=True, due_at__lt=now) | Q(
            paused_at__isnull=False, due_at__lt=F("paused_at")
        )
        mine = Q(handler_id=me if me is not None else -1)

        def tallies(count: type[Count]) -> dict[str, Count]:
            return {
                "total": count("id"),
                "overdue": count("id", _filter=late),
                "mine": count("id", _filter=mine),
            }

        # The page's ids, from the queue's index alone, with the whole queue's counts in
        # the same statement (a window over the rows before LIMIT); then only the page's
        # rows whole (reading every open row of a district to sort them cost ~6 ms).
        counted = (
            query.order_by("due_at", "id")
            .offset((page - 1) * size)
            .limit(size)
            .annotate(**tallies(CountOverAll))
        )
        found = await counted.values("id", "total", "overdue", "mine")
        if found:
            counts = found[0]
        else:  # past the last page (or nothing open): the counts alone
            counts = (await query.annotate(**tallies(Count)).values("total", "overdue", "mine"))[0]
        rows = await rows_in_order(cls, [r["id"] for r in found], "handler")
        return rows, counts["total"], counts["overdue"] or 0, counts["mine"] or 0

    @classmethod
    async def filed_by(
        cls, person_id: int | None, page: int, size: int
    ) -> tuple[list[ServiceRequest], int]:
        """我的诉求: a page of what this person filed, latest first, and how many in all."""
        if person_id is None:
            return [], 0
        query = cls.filter(requester_id=person_id)  # type: ignore[attr-defined]
        total = await query.count()
        rows = await query.order_by("-created_at", "-id").offset((page - 1) * size).limit(size)
        return rows, total

    @classmethod
    async def image_belongs_to(
        cls, person_id: int, since: datetime
    ) -> tuple[ServiceRequest | None, str]:
        """An image sent now goes with the request this person closed since `since`
        (kind ``result``), else the one they filed since then (``filed``)."""
        closed = (
            await cls.filter(handler_id=person_id, closed_at__gte=since)  # type: ignore[attr-defined]
            .order_by("-closed_at")
            .first()
        )
        if closed is not None:
            return closed, "result"
        filed = (
            await cls.filter(requester_id=person_id, created_at__gte=since)  # type: ignore[attr-defined]
            .order_by("-created_at")
            .first()
        )
        return filed, "filed"

    async def history(self) -> list[RequestEvent]:
        events: Any = self.events  # type: ignore[attr-defined]
        return await events.all().select_related("actor").order_by("created_at", "id")  # type: ignore[no-any-return]

    async def filing_chat(self) -> tuple[str, str] | None:
        """(user_key, chat_key) of the requester in the chat where they filed it."""
        filed: Any = await self.events.filter(action="filed").first()  # type: ignore[attr-defined]
        if filed is None or ":" not in filed.chat:
            return None
        platform = filed.chat.split(":", 1)[0]
        ident = await Identity.filter(person_id=self.requester_id, platform=platform).first()
        if ident is None:
            return None
        return f"{platform}:{ident.user_id}", filed.chat

    # -- who hears of it ------------------------------------------------------------
    async def filed_in_group(self) -> bool:
        """Whether the requester's notices go to a group (not one of their own chats): a
        group hears that the request moved, never what the officers wrote."""
        return self.reply_target not in await person_targets(self.requester_id)

    async def handler_targets(self) -> list[str]:
        """The handler privately; the unit holding the request when nobody has taken it."""
        if self.handler_id is not None:
            return await person_targets(self.handler_id)
        return await officer_targets(self.holder())

    async def parent_targets(self) -> list[str]:
        """Where the supervising (parent) organisation's officers are told."""
        parent_id = self.org.parent_id
        parent = await Organization.filter(id=parent_id).first() if parent_id else None
        return await officer_targets(parent) if parent is not None else []
