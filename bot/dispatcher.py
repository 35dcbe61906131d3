"""调度：去重 → 身份 → 对话步骤 / 命令 / 关键词 → 处理函数 → 回复。

Every channel hands an `Inbound` to `Dispatcher.handle` and renders the
replies it gets back. Nothing here knows a platform.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from bot.audit import record_command
from bot.context import Ctx
from bot.db import is_unavailable
from bot.dialogs import Dialog, DialogControl
from bot.guess import offer_command, offer_spoken, with_note
from bot.inbound import Inbound, Reply
from bot.intake import prompt_author
from bot.logs import log_event
from bot.pager import paged
from bot.text import (
    fold_width,
    mask_private,
    split_command,
    split_glued,
    tokenize,
    trim_trailing,
)
from models.errors import DomainError

if TYPE_CHECKING:
    from bot.identity import Caller, OrgView
    from bot.registry import Command, Handler
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.dispatcher")
# Dialogs that only asked a question: when they expire, they end without a word.


def _quiet(key: str) -> bool:
    """A question the bot asked (回访, 自动受理): expired, it is dropped without a word."""
    declared = Dialog.declared.get(key)
    return declared is not None and declared.quiet


class _Duplicate(Exception):
    """The event's key was already in the database: roll back, answer as before."""


@dataclass(slots=True)
class _Plan:
    """What to run for one inbound event."""

    func: Handler
    ctx: Ctx
    label: str  # command key / dialog step / event kind, for logs and metrics
    mutates: bool


@dataclass(slots=True)
class _Answer:
    replies: list[Reply]
    label: str
    outcome: str


class Dispatcher:
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
                answer.replies = [Reply(mask_private(r.text), r.at_sender) for r in answer.replies]
            if answer.label != "more" and self.rt.config.bot.page_chars:  # one screen each
                answer.replies = await paged(
                    self.rt.templates,
                    inb,
                    answer.replies,
                    self.rt.config.bot.page_chars,
                    self.rt.clock.now(),
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
            elapsed = time.perf_counter() - started
            self.rt.metrics.events.labels(inb.platform, answer.label or "-", answer.outcome).inc()
            self.rt.metrics.latency.labels(inb.platform).observe(elapsed)
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
        caller = await self.rt.identity.resolve(inb.platform, inb.user_id, inb.display_name)
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

    # -- routing ------------------------------------------------------------
    async def _plan(self, ctx: Ctx) -> _Plan | _Answer:
        inb = ctx.inbound
        if inb.kind != "text":
            return self._plan_event(ctx)
        parsed = split_command(inb.text)
        if parsed is None:
            return await self._plan_plain(ctx)
        return self._plan_command(ctx, parsed.word, parsed.rest)

    def _plan_event(self, ctx: Ctx) -> _Plan | _Answer:
        inb = ctx.inbound
        if inb.kind == "click" and inb.extra.get("key"):
            # A menu button whose key names a command runs that command.
            cmd = self.registry.find(str(inb.extra["key"]).lower())
            if cmd is not None:
                return self._plan_command(ctx, cmd.name, "")
        handler = self.registry.events.get(inb.kind)
        if handler is not None:
            ctx.service = handler.service
            return _Plan(handler.func, ctx, inb.kind, handler.mutates)
        if inb.is_group:
            return _Answer([], inb.kind, "ignored")
        fallback = self.registry.events.get("unsupported")
        if fallback is None:
            return _Answer([], inb.kind, "ignored")
        return _Plan(fallback.func, ctx, inb.kind, False)

    async def _plan_plain(self, ctx: Ctx) -> _Plan | _Answer:
        inb = ctx.inbound
        if not inb.text.strip() and not inb.mentioned_bot:
            return _Answer([], "", "ignored")
        state = await self.rt.dialogs.current(inb.user_key, inb.chat_key)
        now = self.rt.clock.now()
        if state is not None and state.expires_at < now and _quiet(state.dialog):
            await self.rt.dialogs.clear(inb.user_key, inb.chat_key)  # a question nobody took
            state = None
        if state is not None:
            if state.expires_at < now:
                return _Plan(_expired_dialog, ctx, f"{state.dialog}:expired", True)
            step = self.registry.steps.get((state.dialog, state.step))
            if step is None:  # a step no handler answers (renamed since): say so, not silence
                return _Plan(_dialog_gone, ctx, f"{state.dialog}:{state.step}:gone", True)
            ctx.dialog.data = dict(state.data or {})
            ctx.service = step.service
            ctx.rest = inb.text.strip()
            return _Plan(step.func, ctx, step.label, True)
        if inb.is_group and not inb.mentioned_bot:
            # Chatter is ignored; with 自动受理 on, a request gets one prompt (bot/intake.py).
            if self.rt.intake is not None and await self.rt.intake.noticed(ctx):
                return _Plan(prompt_author, ctx, "intake", True)
            return _Answer([], "", "ignored")
        words = fold_width(inb.text).strip()
        first, _, rest = words.partition(" ")
        # Plain words that name a command run it ("帮助", "报到"); in private chats a
        # number opens that service of the menu /帮助 shows.
        if first.lower() in self.registry.by_name:
            return self._plan_command(ctx, first.lower(), rest)
        if not inb.is_group and first.isdigit():
            return self._plan_command(ctx, "help", first)
        handler = self.registry.events.get("plain")
        if handler is None:
            return _Answer([], "", "ignored")
        ctx.service = handler.service
        return _Plan(handler.func, ctx, "plain", handler.mutates)

    def _plan_command(
        self, ctx: Ctx, word: str, rest: str, *, confirmed: bool = False
    ) -> _Plan | _Answer:
        cmd = self.registry.find(word)
        # "/诉求路灯坏了" is glued; "/取消报明" is 取消报名 mistyped, not 取消 + 报明.
        sure = cmd is None and word and self.registry.guess(word, ctx.caller, ctx.org)
        if cmd is None and word and not (sure and sure.confident):
            glued = split_glued(word, self.registry.names_longest_first)
            if glued is not None:
                cmd = self.registry.find(glued[0])
                rest = f"{glued[1]} {rest}".strip()
        if cmd is None:
            if not word:
                cmd = self.registry.find("help")
            else:
                return self._plan_guess(ctx, word, rest)
        assert cmd is not None
        ctx.command, ctx.service = cmd, cmd.service
        if not cmd.permission.check(ctx.caller, ctx.org):
            return self._refuse(ctx, cmd, "denied")
        if cmd.group_only and not ctx.inbound.is_group:
            return self._refuse(ctx, cmd, "group_only")
        if cmd.private_only and ctx.inbound.is_group:
            return self._refuse(ctx, cmd, "private_only")
        func = cmd.func
        if cmd.answer_privately and ctx.inbound.is_group:
            outbound = self.rt.outbound
            if outbound is None or outbound.refusal(ctx.inbound.user_key) is not None:
                return self._refuse(ctx, cmd, "private_only")  # we cannot reach them there
            func = _answer_privately
        args = split_args(rest, cmd)
        if not cmd.arity_ok(len(args)) or not cmd.args_ok(args):
            return self._refuse(ctx, cmd, "bad_args", given=len(args))
        ctx.args, ctx.rest = args, rest
        if cmd.mutates and ctx.inbound.extra.get("recognition") and not confirmed:
            # Spoken, and it changes something: say what we heard and ask first.
            return _Plan(partial(offer_spoken, command=cmd, rest=rest), ctx, cmd.key, True)
        return _Plan(func, ctx, cmd.key, cmd.mutates)

    def _plan_guess(self, ctx: Ctx, word: str, rest: str) -> _Plan | _Answer:
        """An unknown command word. A sure match (/报道, /qiandao) of a read-only command
        runs it with a note; a command that changes state is only offered (bot/guess.py)."""
        match = self.registry.guess(word, ctx.caller, ctx.org)
        if match is not None and match.confident and not match.value.mutates:
            note = self.rt.templates.render("guess_note", command=match.value)
            return with_note(self._plan_command(ctx, match.value.name, rest), note)
        cmd = match.value if match else None
        if cmd is not None and not ctx.inbound.is_group:
            return _Plan(partial(offer_command, word=word, command=cmd, rest=rest), ctx, "?", True)
        text = self.rt.templates.render("unknown_command", word=word, guess=cmd, offer=False)
        return _Answer([Reply(text, at_sender=ctx.inbound.is_group)], "?", "unknown")

    async def run_inline(self, ctx: Ctx, word: str | None, rest: str = "") -> list[Reply]:
        """From a dialog step: run the command `word`, or (None) the message as if no
        dialog were open, inside the step's transaction; a refusal undoes only its part."""
        if word is None:
            plan = await self._plan(ctx)
        else:
            plan = self._plan_command(ctx, word, rest, confirmed=True)
        if isinstance(plan, _Answer):
            return plan.replies
        try:
            async with in_transaction():  # a savepoint
                return as_replies(await plan.func(plan.ctx))
        except DomainError as err:
            text = plan.ctx.refusal(err)
            return [Reply(text, at_sender=ctx.inbound.is_group)]

    def _refuse(self, ctx: Ctx, cmd: Command, why: str, **extra: Any) -> _Answer:
        info = self.rt.templates.command_info(cmd.key)
        text = self.rt.templates.render(
            f"refuse_{why}", command=cmd, info=info, caller=ctx.caller, org=ctx.org, **extra
        )
        return _Answer([Reply(text, at_sender=ctx.inbound.is_group)], cmd.key, why)

    def menu_for(self, caller: Caller, org: OrgView | None, is_group: bool) -> list[Command]:
        """The commands this person may use here, in the order /帮助 lists them. A
        permission depends on the caller's roles and the chat's organisation only, so
        each (roles, organisation, chat kind) is worked out once (~80 checks a /帮助)."""
        key = (caller.roles, org, is_group, len(self.registry.commands))
        menu = self._menus.get(key)
        if menu is None:
            if len(self._menus) >= 4096:
                self._menus.clear()
            menu = self._menus[key] = tuple(
                c
                for c in self.registry.commands
                if c.listed
                and c.permission.check(caller, org)
                and not (c.group_only and not is_group)
                and not (c.private_only and is_group)
            )
        return list(menu)

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


def split_args(rest: str, cmd: Command) -> list[str]:
    """Tokens for the declared arguments; a trailing `rest` argument keeps its spaces."""
    if not rest:
        return []
    if not (cmd.args and cmd.args[-1].rest):
        return [t for t in map(trim_trailing, tokenize(rest)) if t]
    fixed = len(cmd.args) - 1
    folded = fold_width(rest)  # same length as `rest`: positions carry over
    pos, head = 0, []
    for _ in range(fixed):
        while pos < len(folded) and folded[pos].isspace():
            pos += 1
        if pos >= len(folded):
            break
        end = pos
        while end < len(folded) and not folded[end].isspace():
            end += 1
        head.append(folded[pos:end])
        pos = end
    tail = rest[pos:].strip()
    return head + ([tail] if tail else [])


def as_replies(result: Any) -> list[Reply]:
    if result is None:
        return []
    if isinstance(result, Reply):
        return [result]
    if isinstance(result, str):
        return [Reply(result)]
    return [r if isinstance(r, Reply) else Reply(str(r)) for r in result]


async def _answer_privately(ctx: Ctx) -> Reply:
    """Run the command, send its answer to the asker in private once it commits, and tell
    the group only that it was sent (the command answers with personal data)."""
    assert ctx.command is not None
    texts = [r.text for r in as_replies(await ctx.command.func(ctx))]
    inb = ctx.inbound
    key = ctx.change_key("private")
    for i, text in enumerate(texts):
        ctx.push_after_commit(
            [inb.user_key],
            lambda text=text: text,
            purpose="private_answer",
            key=f"{key}:{i}",
            mask=False,
        )
    return ctx.render("sent_privately", command=ctx.command)


async def _expired_dialog(ctx: Ctx) -> Reply:
    state = await ctx.runtime.dialogs.current(ctx.inbound.user_key, ctx.inbound.chat_key)
    await ctx.dialog.finish()
    return ctx.render(
        "dialog_expired",
        dialog=state.dialog if state else "",
        timeout=ctx.runtime.config.bot.dialog_timeout_minutes,
    )


async def _dialog_gone(ctx: Ctx) -> Reply:
    await ctx.dialog.finish()
    return ctx.render("dialog_gone")
