"""多步对话：每个对话声明一次（像 aiogram 的 StatesGroup），状态存在数据库里，带过期时间。

Declare a dialog once, its steps in order::

    class Register(Dialog, key="register", ask="checkin_ask"):
        name = Step(parse=read_name)   # a parser's DomainError asks the same step again
        phone = Step(parse=read_phone)

    @router.step(Register.phone)
    async def register_phone(ctx):      # ctx.answer is what the parser returned
        ctx.dialog.data["phone"] = ctx.answer
        return await ctx.dialog.ask(Register.home)

The registry (bot/registry.py) checks at start that every declared step has exactly one
handler; a stored step that names none is cleared and the person told (bot/dispatcher.py).
The database keeps ``dialog`` = the dialog's key and ``step`` = the step's name.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from models.events import DialogState

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.inbound import Reply

# (ctx, the answer as typed, stripped) -> the value the step handler gets as ctx.answer
Parser = Callable[["Ctx", str], Any]


class Step:
    """One step of a declared dialog; its name is the attribute's name."""

    def __init__(self, parse: Parser | None = None, *, name: str = "") -> None:
        self.parse = parse
        # Stored as the attribute's name, or `name` (a stored name Python cannot spell: "from").
        self.name = name
        self.dialog: type[Dialog] = Dialog

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    @property
    def key(self) -> tuple[str, str]:
        return (self.dialog.key, self.name)

    def __repr__(self) -> str:
        return f"<Step {self.dialog.key}.{self.name}>"

    async def read(self, ctx: Ctx) -> Any:
        """The parsed answer (the parser may be sync or async); DomainError when invalid."""
        assert self.parse is not None
        value = self.parse(ctx, ctx.rest.strip())
        return await value if inspect.isawaitable(value) else value


class Dialog:
    """A dialog declared once: subclass with ``key`` (stored), ``ask`` (the template that
    asks a step; it gets ``step``, ``data`` and, re-asked, ``invalid`` and ``error``) and
    ``quiet`` (a question the bot asked: when it expires it is dropped without a word)."""

    key: ClassVar[str] = ""
    ask: ClassVar[str] = ""
    quiet: ClassVar[bool] = False
    steps: ClassVar[tuple[Step, ...]] = ()
    declared: ClassVar[dict[str, type[Dialog]]] = {}

    def __init_subclass__(cls, *, key: str, ask: str = "", quiet: bool = False) -> None:
        super().__init_subclass__()
        cls.key, cls.ask, cls.quiet = key, ask, quiet
        cls.steps = tuple(v for v in vars(cls).values() if isinstance(v, Step))
        if not cls.steps:
            raise TypeError(f"dialog {key!r} declares no steps")
        for step in cls.steps:
            step.dialog = cls
        Dialog.declared[key] = cls

    @classmethod
    def variables(cls, ctx: Ctx) -> dict[str, Any]:
        """More variables for the ``ask`` template (e.g. the service's labels), given to
        the question a parser's refusal re-asks; pass them to ``ask``/``question`` too."""
        return {}

    @classmethod
    def step(cls, name: str) -> Step | None:
        return next((s for s in cls.steps if s.name == name), None)


class Dialogs:
    def __init__(self, now: Callable[[], datetime], timeout_minutes: int = 10) -> None:
        self.now = now
        self.timeout = timedelta(minutes=timeout_minutes)

    async def current(self, user_key: str, chat_key: str) -> DialogState | None:
        return await DialogState.filter(user_key=user_key, chat_key=chat_key).first()

    async def start(
        self,
        user_key: str,
        chat_key: str,
        dialog: str,
        step: str,
        data: dict[str, Any],
        *,
        expires_at: datetime | None = None,
    ) -> None:
        """Start (or restart) a dialog; an older one in the same chat is replaced.

        `expires_at` for a question the bot asks someone else (a 回访 is open for days)."""
        await DialogState.update_or_create(
            user_key=user_key,
            chat_key=chat_key,
            defaults={
                "dialog": dialog,
                "step": step,
                "data": data,
                "expires_at": expires_at or self.now() + self.timeout,
            },
        )

    async def clear(self, user_key: str, chat_key: str) -> bool:
        return bool(await DialogState.filter(user_key=user_key, chat_key=chat_key).delete())


class DialogControl:
    """What a handler may do with the asker's dialog in this chat."""

    def __init__(self, dialogs: Dialogs, user_key: str, chat_key: str) -> None:
        self._dialogs = dialogs
        self._user_key = user_key
        self._chat_key = chat_key
        self.data: dict[str, Any] = {}
        # finish() was called: the dialog is over even if the step is then refused and
        # its transaction rolls back (the dispatcher clears it again afterwards).
        self.finished = False
        # The Ctx this belongs to (`attach`), held weakly: a Ctx and its DialogControl
        # pointing at each other made every message's objects wait for the garbage
        # collector instead of going when the message was answered (issue #15).
        self._ctx: weakref.ReferenceType[Ctx] | None = None

    def attach(self, ctx: Ctx) -> None:
        self._ctx = weakref.ref(ctx)

    @property
    def render(self) -> Callable[..., Reply] | None:
        """Renders a template for this asker (its Ctx's render), once attached."""
        ctx = self._ctx() if self._ctx is not None else None
        return ctx.render if ctx is not None else None

    async def start(self, step: Step, *, expires_at: datetime | None = None, **data: Any) -> None:
        """Open ``step``'s dialog at that step with ``data``; an older dialog here is replaced."""
        self.data = dict(data)
        self.finished = False
        await self._save(step, expires_at)

    async def goto(self, step: Step) -> None:
        """Move to ``step``, keeping (and saving) ``data``; the expiry restarts."""
        self.finished = False
        await self._save(step, None)

    async def ask(self, step: Step, **variables: Any) -> Reply:
        """Move to ``step`` and ask it with the dialog's ``ask`` template."""
        await self.goto(step)
        return self.question(step, **variables)

    def question(self, step: Step, **variables: Any) -> Reply:
        """The dialog's question for ``step``, without moving (a re-ask)."""
        render = self.render
        assert render is not None and step.dialog.ask, f"{step!r} has no ask template"
        variables = {"data": self.data, "invalid": False, "error": "", **variables}
        return render(step.dialog.ask, step=step.name, **variables)

    async def _save(self, step: Step, expires_at: datetime | None) -> None:
        await self._dialogs.start(
            self._user_key,
            self._chat_key,
            step.dialog.key,
            step.name,
            self.data,
            expires_at=expires_at,
        )

    async def finish(self) -> None:
        self.finished = True
        await self._dialogs.clear(self._user_key, self._chat_key)

    async def finish_after_refusal(self) -> None:
        """A refusal rolled back the step's transaction: keep the dialog finished."""
        if self.finished:
            await self._dialogs.clear(self._user_key, self._chat_key)


def step_handler(step: Step, func: Callable[[Ctx], Awaitable[Any]]) -> Callable[[Ctx], Any]:
    """``func`` behind ``step``'s parser: an invalid answer asks the same step again."""
    if step.parse is None:
        return func

    async def run(ctx: Ctx) -> Any:
        from models.errors import DomainError  # models import bot.* at import time

        try:
            ctx.answer = await step.read(ctx)
        except DomainError as err:
            variables = {**step.dialog.variables(ctx), **err.details}
            return ctx.dialog.question(step, invalid=True, error=ctx.refusal(err), **variables)
        return await func(ctx)

    run.__name__ = getattr(func, "__name__", "step")
    return run
