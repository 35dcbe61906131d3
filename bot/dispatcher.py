"""调度：去重 → 身份 → 对话步骤 / 命令 / 关键词 → 处理函数 → 回复。

Every channel hands an `Inbound` to `Dispatcher.handle` and renders the
replies it gets back. Nothing here knows a platform.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from bot.audit import record_command
from bot.context import Ctx
from bot.db import is_unavailable
from bot.dialogs import DialogControl
from bot.inbound import Inbound, Reply
from bot.lanes import is_report
from bot.logs import log_event
from bot.pager import paged
from bot.routing import Routing, _Answer, _Plan, as_replies
from bot.text import (
    mask_private,
)
from models.errors import DomainError

if TYPE_CHECKING:
    from bot.registry import Command
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.dispatcher")


# Dialogs that only asked a question: when they expire, they end without a word.
class _Duplicate(Exception):
    """The event's key was already in the database: roll back, answer as before."""


def _masked(reply: Reply) -> Reply:
    text = mask_private(reply.text)
    return reply if text is reply.text else Reply(text, reply.at_sender)


class Dispatcher(Routing):
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.registry = runtime.registry
        self._menus: dict[tuple[object, ...], tuple[Command, ...]] = {}

    # -- entry point ------------------------------------------------------
    async def handle(self, inb: Inbound, *, replay: bool = False) -> list[Reply]:
        """The replies to ``inb``. ``replay``: from the journal (bot/journal.py) — a
        database failure is raised to it instead of being kept again."""
        started = time.perf_counter()
        answer = _Answer([], "", "ignored")
        key = f"{inb.platform}\x00{inb.event_id}" if inb.event_id else None
        self.rt.reports.arrive()  # officers' reports start after the messages in hand
        try:
            if key is not None:
                seen = self.rt.dedup.seen_locally(key)
                if seen is not None:
                    texts = seen if isinstance(seen, tuple) else await asyncio.shield(seen)
                    replies = [Reply(t, at_sender=inb.is_group) for t in texts]
                    answer = _Answer(replies, "", "duplicate")
                    self.rt.metrics.dedup_hits.labels(inb.platform).inc()
                    return answer.replies
                self.rt.dedup.begin(key)
            try:
                answer = await self._dispatch_or_keep(inb, replay)
            finally:
                if key is not None:
                    kept = answer.outcome == "journal"  # not handled yet: a replay must run
                    done = not kept and (
                        answer.outcome not in ("error", "ignored") or answer.replies
                    )
                    self.rt.dedup.end(key, tuple(r.text for r in answer.replies) if done else None)
            if inb.is_group:  # what a group reads never holds a full phone or ID number
                answer.replies = [_masked(r) for r in answer.replies]
            limit = self.rt.config.bot.page_chars
            if (
                answer.label != "more"
                and limit
                and any(len(r.text) > limit for r in answer.replies)  # else nothing to cut
            ):  # one screen each
                answer.replies = await paged(
                    self.rt.templates, inb, answer.replies, limit, self.rt.clock.now()
                )
            if answer.outcome == "duplicate":
                self.rt.metrics.dedup_hits.labels(inb.platform).inc()
            return answer.replies
        except Exception as exc:
            if replay and is_unavailable(exc):
                raise
            log.exception("handler failed for %s", inb.user_key)
            answer = _Answer([Reply(self.rt.templates.render("error"))], answer.label, "error")
            return answer.replies
        finally:
            self.rt.reports.leave()
            elapsed = time.perf_counter() - started
            self.rt.metrics.count_event(inb.platform, answer.label or "-", answer.outcome, elapsed)
            log_event(
                platform=inb.platform,
                chat=inb.chat_id,
                user=inb.user_id,
                kind=inb.kind,
                command=answer.label,
                outcome=answer.outcome,
                ms=round(elapsed * 1000, 2),
            )

    async def _dispatch_or_keep(self, inb: Inbound, replay: bool) -> _Answer:
        """Handle ``inb``, or keep it in the journal while the database cannot be written."""
        journal = self.rt.journal
        if journal is None or replay:
            return await self._dispatch(inb)
        if not journal.must_keep():
            try:
                return await self._dispatch(inb)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                journal.health.mark_down(f"{type(exc).__name__}: {exc}")
        first = await journal.keep(inb)
        replies = [Reply(self.rt.templates.render("journal_kept"), at_sender=inb.is_group)]
        return _Answer(replies if first else [], "journal", "journal")

    async def _dispatch(self, inb: Inbound) -> _Answer:
        if not inb.ids_ok:
            log.warning(
                "%s: refused an event with a %d-character user id", inb.platform, len(inb.user_id)
            )
            return _Answer([], "", "bad_id")
        caller = await self.rt.identity.resolve(
            inb.platform, inb.user_id, inb.display_name, inb.nickname
        )
        if caller.person_id is not None and self.rt.seen is not None:
            contact = self.rt.seen.note(caller.person_id)  # 失联排查: a message is contact
            if contact is not None:
                self.rt.spawn(contact, "seen")
        org = await self.rt.identity.chat_org(inb.platform, inb.chat_id) if inb.is_group else None
        if org is not None and self.rt.communities is not None:
            lives = self.rt.communities.note(inb.user_key, org.id)  # only when it changes
            if lives is not None:
                self.rt.spawn(lives, "community")
        ctx = Ctx(
            self.rt, inb, caller, org, DialogControl(self.rt.dialogs, inb.user_key, inb.chat_key)
        )
        plan_or_answer = await self._plan(ctx)
        if isinstance(plan_or_answer, _Answer):
            return plan_or_answer
        return await self._execute(plan_or_answer)

    # -- running --------------------------------------------------------------
    async def _execute(self, plan: _Plan) -> _Answer:
        inb = plan.ctx.inbound
        try:
            if plan.mutates:
                replies = await self._run_in_transaction(plan)
            else:
                if inb.event_id and not await self.rt.dedup.claim_batched(
                    inb.platform, inb.event_id, inb.user_key, plan.label
                ):
                    raise _Duplicate
                async with self.rt.reports.slot(is_report(plan.ctx.caller, plan.mutates)):
                    replies = as_replies(await plan.func(plan.ctx))
        except _Duplicate:
            texts = await self.rt.dedup.stored_replies(inb.platform, inb.event_id)
            replies = [Reply(t, at_sender=inb.is_group) for t in texts]
            return _Answer(replies, plan.label, "duplicate")
        except DomainError as err:
            await plan.ctx.dialog.finish_after_refusal()
            text = plan.ctx.refusal(err)
            return _Answer([Reply(text, at_sender=inb.is_group)], plan.label, "refused")
        for work in plan.ctx.pending:  # committed: now tell the others
            self.rt.spawn(work(), plan.label)
        return _Answer(replies, plan.label, "ok")

    async def _run_in_transaction(self, plan: _Plan) -> list[Reply]:
        inb = plan.ctx.inbound
        try:
            return await self._transaction(plan)
        except BaseException:
            # Caches may hold what the rolled-back transaction wrote.
            self.rt.identity.invalidate(inb.user_key)
            self.rt.identity.forget_chat(inb.platform, inb.chat_id)
            raise

    async def _transaction(self, plan: _Plan) -> list[Reply]:
        inb = plan.ctx.inbound
        async with in_transaction():
            row = None
            if inb.event_id:
                row = await self.rt.dedup.claim_in_transaction(
                    inb.platform, inb.event_id, inb.user_key, plan.label
                )
                if row is None:
                    raise _Duplicate
            replies = as_replies(await plan.func(plan.ctx))
            # Officers' actions go to the audit log in the same transaction.
            await record_command(plan.ctx)
            if row is not None:
                row.reply = json.dumps([r.text for r in replies], ensure_ascii=False)
                await row.save(update_fields=["reply"])
        return replies
