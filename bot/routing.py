"""调度的选路：一条消息该由谁处理（对话步骤、命令、关键词、事件），以及处理前的拒绝。

`Dispatcher` (bot/dispatcher.py) runs what `Routing` plans: a `_Plan` (a handler, its
context, a label, whether it changes state) or an `_Answer` already decided (a refusal
before running, an ignored event).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from bot.context import Ctx
from bot.dialogs import Dialog
from bot.guess import offer_command, offer_spoken, with_note
from bot.inbound import Reply
from bot.intake import prompt_author
from bot.text import fold_width, split_command, split_glued, tokenize, trim_trailing
from models.errors import DomainError

if TYPE_CHECKING:
    from bot.identity import Caller, OrgView
    from bot.registry import Command, Handler, Registry
    from bot.runtime import Runtime


def _quiet(key: str) -> bool:
    """A question the bot asked (回访, 自动受理): expired, it is dropped without a word."""
    declared = Dialog.declared.get(key)
    return declared is not None and declared.quiet


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


class Routing:
    """The planning half of the Dispatcher."""

    rt: Runtime
    registry: Registry
    _menus: dict[tuple[object, ...], tuple[Command, ...]]

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
            partial(str, text),
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
