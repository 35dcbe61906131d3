"""命令注册表：每个处理函数声明中英文命令名、所需角色和参数。

Handlers register on a `Router` (one per handler module), in the manner of
aiogram routers; permissions are small objects composed with ``|`` and ``&``
as in NoneBot2.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.dialogs import Step, step_handler
from bot.fuzzy import Match, WordIndex

# Re-exported: services import the permissions from here.
from bot.permissions import ADMIN as ADMIN
from bot.permissions import EVERYONE as EVERYONE
from bot.permissions import MEMBER as MEMBER
from bot.permissions import OFFICER as OFFICER
from bot.permissions import Permission as Permission
from bot.permissions import Role as Role
from bot.text import fold_width

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.identity import Caller, OrgView

HandlerResult = "Reply | list[Reply] | None"
Handler = Callable[["Ctx"], Awaitable[Any]]


# -- commands -------------------------------------------------------------
# Default bounds of an argument: one word, and free text (longer than any real request).
TOKEN_MAX = 64
REST_MAX = 2000
# A value of digits alone (an id, a page, a count) fits the database's 32-bit integers;
# free text may be a phone (11) or ID-card number (18).
TOKEN_DIGITS = 9
REST_DIGITS = 18


@dataclass(frozen=True)
class Arg:
    """One argument, with its bounds: the dispatcher answers a value outside them with
    the command's usage, before the handler runs."""

    name: str
    required: bool = True
    # Takes the rest of the line, spaces and all (free text such as a request's content).
    rest: bool = False
    max_len: int = 0  # characters; 0: TOKEN_MAX, or REST_MAX for a rest argument
    # A value of digits alone ("12", "#12") has at most this many; 0: the default above.
    max_digits: int = 0
    # The words it may be, when it is one of a few (compared as folded, lower case).
    choices: tuple[str, ...] = ()

    def accepts(self, value: str) -> bool:
        if self.choices:
            return fold_width(value).strip().lower() in self.choices
        if len(value) > (self.max_len or (REST_MAX if self.rest else TOKEN_MAX)):
            return False
        digits = fold_width(value).strip().lstrip("#")
        if digits.isascii() and digits.isdigit():
            return len(digits) <= (self.max_digits or (REST_DIGITS if self.rest else TOKEN_DIGITS))
        return True


@dataclass
class Command:
    key: str  # English name, also the key in templates/zh_CN/commands.toml
    names: tuple[str, ...]  # every name it answers to, Chinese first
    func: Handler
    permission: Permission = EVERYONE
    args: tuple[Arg, ...] = ()
    # Changes state: runs in one transaction with its dedup record (bot/dedup.py).
    mutates: bool = False
    # Listed by /帮助 (hidden ones still work).
    listed: bool = True
    group_only: bool = False
    private_only: bool = False
    # Answers with personal data: typed in a group, the answer goes to the asker in
    # private and the group hears "已私信发送" (bot/dispatcher.py).
    answer_privately: bool = False
    # The service (router) it belongs to: its refusal texts are tried first.
    service: str = ""

    @property
    def name(self) -> str:
        return self.names[0]

    def arity_ok(self, argc: int) -> bool:
        required = sum(1 for a in self.args if a.required)
        if argc < required:
            return False
        if self.args and self.args[-1].rest:
            return True
        return argc <= len(self.args)

    def args_ok(self, args: list[str]) -> bool:
        """Every value within its argument's bounds (Arg.accepts)."""
        return all(arg.accepts(value) for arg, value in zip(self.args, args, strict=False))


@dataclass
class DialogStep:
    step: Step
    func: Handler  # behind the step's parser (bot.dialogs.step_handler)
    service: str = ""

    @property
    def label(self) -> str:
        return f"{self.step.dialog.key}:{self.step.name}"


@dataclass
class EventHandler:
    kind: str
    func: Handler
    mutates: bool = False
    service: str = ""


@dataclass
class Job:
    """Periodic work of a service (deadline reminders); `seconds(config)` sets the period.

    `func(runtime, now)` returns the pushes that are due (bot.outbound.Push); it
    never sends itself, so the scheduler decides when and exactly once.
    """

    name: str
    func: Callable[[Any, Any], Awaitable[Any]]  # (Runtime, aware UTC now) -> list[Push]
    seconds: Callable[[Any], float]


# (organisation code, first day, last day, templates, full phones) -> (header, rows)
RowsFunc = Callable[..., Awaitable[tuple[list[str], list[list[Any]]]]]
# (runtime, organisation or None, aware UTC now) -> broadcast template variables
VariablesFunc = Callable[[Any, Any, datetime], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Ledger:
    """A ledger (台账) a service exports: `lianxin export NAME` and the workbench.

    ``rows(org_code, date_from, date_to, templates=..., full_phone=...)`` returns the
    header and the rows; bot/exports.py writes them as csv or xlsx.
    """

    name: str
    rows: RowsFunc
    # Needs --from and --to; `periods=False`: takes no dates at all (else optional).
    dated: bool = False
    periods: bool = True
    # Offered on the workbench's ledger page.
    workbench: bool = False


@dataclass
class Router:
    """One per handler module; the registry merges them.

    Besides commands, dialog steps, events and jobs, a router carries what makes its
    service a plugin: its refusal texts (`refusals`, a template name), its config
    section (`section`), its ledgers (`export`) and broadcast variables (`variables`).
    """

    name: str
    commands: list[Command] = field(default_factory=list)
    steps: list[DialogStep] = field(default_factory=list)
    events: list[EventHandler] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    # Template of the service's refusal texts ({% if code == ... %} chains; nothing
    # for a code it does not know), e.g. "refused/requests" (bot/refusals.py).
    refusals: str = ""
    ledgers: list[Ledger] = field(default_factory=list)
    # [section] name → dataclass of the service's settings (bot/config.py parses it).
    sections: dict[str, type] = field(default_factory=dict)
    broadcast_variables: list[VariablesFunc] = field(default_factory=list)
    # The service's pages on the officers' workbench (aiohttp RouteTableDefs, mounted
    # under /admin/ by bot/web when it is enabled).
    pages: list[Any] = field(default_factory=list)

    def section(self, name: str, settings: type) -> None:
        """Declare the service's config section: ``[name]`` in the TOML file and
        LIANXIN_NAME__KEY variables fill a `settings` dataclass, read as
        ``config.name``. A ``validate()`` method on it may raise ConfigError."""
        self.sections[name] = settings

    def export(
        self, name: str, *, dated: bool = False, periods: bool = True, workbench: bool = False
    ) -> Callable[[RowsFunc], RowsFunc]:
        """Register a ledger: ``@router.export("requests", dated=True)`` on its rows
        function, or ``router.export("members", periods=False)(member_rows)``."""

        def deco(rows: RowsFunc) -> RowsFunc:
            self.ledgers.append(Ledger(name, rows, dated, periods, workbench))
            return rows

        return deco

    def variables(self, func: VariablesFunc) -> VariablesFunc:
        """Broadcast template variables (bot/broadcaster): ``func(runtime, org, now)``
        returns names (English and Chinese) and values for the organisation's text."""
        self.broadcast_variables.append(func)
        return func

    # What this service offers other services by name (Registry.provided), so that no
    # service imports another's handlers: /走访 files a request through "file_request".
    provides: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def provide(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def deco(func: Callable[..., Any]) -> Callable[..., Any]:
            self.provides[name] = func
            return func

        return deco

    def every(
        self, seconds: Callable[[Any], float]
    ) -> Callable[[Callable[[Any, Any], Awaitable[Any]]], Callable[[Any, Any], Awaitable[Any]]]:
        """Every `seconds(config)` seconds, send what `func(runtime, now)` says is due."""

        def deco(
            func: Callable[[Any, Any], Awaitable[Any]],
        ) -> Callable[[Any, Any], Awaitable[Any]]:
            self.jobs.append(Job(f"{self.name}.{func.__name__}", func, seconds))
            return func

        return deco

    def command(
        self,
        *names: str,
        permission: Permission = EVERYONE,
        args: tuple[Arg, ...] | list[Arg] = (),
        mutates: bool = False,
        listed: bool = True,
        group_only: bool = False,
        private_only: bool = False,
        answer_privately: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a command. The last name is the English key (`/帮助` = `/help`)."""

        def deco(func: Handler) -> Handler:
            self.commands.append(
                Command(
                    key=names[-1],
                    names=tuple(n.lower() for n in names),
                    func=func,
                    permission=permission,
                    args=tuple(args),
                    mutates=mutates,
                    listed=listed,
                    group_only=group_only,
                    private_only=private_only,
                    answer_privately=answer_privately,
                    service=self.name,
                )
            )
            return func

        return deco

    def step(self, step: Step) -> Callable[[Handler], Handler]:
        """Answer a declared dialog's step: ``@router.step(Register.phone)``."""

        def deco(func: Handler) -> Handler:
            self.steps.append(DialogStep(step, step_handler(step, func), self.name))
            return func

        return deco

    def on_event(self, kind: str, *, mutates: bool = False) -> Callable[[Handler], Handler]:
        def deco(func: Handler) -> Handler:
            self.events.append(EventHandler(kind, func, mutates, self.name))
            return func

        return deco


class Registry:
    def __init__(self, routers: list[Router]) -> None:
        self.routers = list(routers)
        self.ledgers: dict[str, Ledger] = {}
        # Service name → its refusal template, in the routers' order (bot/refusals.py).
        self.refusals: dict[str, str] = {r.name: r.refusals for r in routers if r.refusals}
        self.pages: list[Any] = [routes for r in routers for routes in r.pages]
        self.broadcast_variables = [f for r in routers for f in r.broadcast_variables]
        for router in routers:
            for ledger in router.ledgers:
                if ledger.name in self.ledgers:
                    raise ValueError(f"ledger {ledger.name!r} registered twice")
                self.ledgers[ledger.name] = ledger
        self.commands: list[Command] = []
        self.by_name: dict[str, Command] = {}
        self.steps: dict[tuple[str, str], DialogStep] = {}
        self.events: dict[str, EventHandler] = {}
        self.jobs: list[Job] = [job for router in routers for job in router.jobs]
        self._provided: dict[str, Callable[..., Any]] = {}
        for router in routers:
            for name, func in router.provides.items():
                if name in self._provided:
                    raise ValueError(f"{name!r} provided twice")
                self._provided[name] = func
        for router in routers:
            for cmd in router.commands:
                for n in cmd.names:
                    if n in self.by_name:
                        raise ValueError(f"command name {n!r} registered twice")
                    self.by_name[n] = cmd
                self.commands.append(cmd)
            for st in router.steps:
                if st.step.key in self.steps:
                    raise ValueError(f"dialog step {st.label} has two handlers")
                self.steps[st.step.key] = st
            for ev in router.events:
                self.events[ev.kind] = ev
        # Every step of a dialog answered here has its handler (a typo fails at start).
        for dialog in {st.step.dialog for st in self.steps.values()}:
            missing = [s.name for s in dialog.steps if s.key not in self.steps]
            if missing:
                raise ValueError(f"dialog {dialog.key!r}: no handler for {', '.join(missing)}")
        # Longest first, for "/绑定DEMO" typed without a space.
        self.names_longest_first = sorted(self.by_name, key=len, reverse=True)
        # Pinyin of every name, computed once here rather than per message.
        self.index = WordIndex(self.by_name.items())

    def provided(self, name: str) -> Callable[..., Any] | None:
        """What another service offers under ``name``; None when it is not installed."""
        return self._provided.get(name)

    def find(self, word: str) -> Command | None:
        return self.by_name.get(word)

    def closest(self, word: str, caller: Caller, org: OrgView | None) -> Command | None:
        """The command the person most likely meant, among those they may use."""
        match = self.guess(word, caller, org)
        return match.value if match else None

    def guess(self, word: str, caller: Caller, org: OrgView | None) -> Match[Command] | None:
        """Nearest command by characters, then by pinyin (bot/fuzzy.py); `confident`
        when it is the same word up to homophones (/报道), pinyin (/qiandao), numerals."""
        return self.index.closest(word, lambda c: c.permission.check(caller, org))
