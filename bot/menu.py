"""短菜单：按 templates/zh_CN/menu.toml 把提问人能用的命令分成几项服务，编上号。

/帮助 shows it, and so do plain words nobody understood (handlers/help.py, handlers/talk.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.context import Ctx
    from bot.registry import Command
    from bot.templates import Templates


def short_menu(ctx: Ctx, *, wrong_number: bool = False) -> str:
    """The numbered services open to the asker here (at most about ten lines)."""
    templates = ctx.runtime.templates
    menu = ctx.runtime.dispatcher.menu_for(ctx.caller, ctx.org, ctx.inbound.is_group)
    key = ("help_menu", wrong_number, tuple(c.key for c in menu), ctx.org, ctx.inbound.is_group)
    return templates.memo(
        key,
        lambda: templates.render(
            "help_menu",
            services=sections_for(templates, menu),
            org=ctx.org,
            is_group=ctx.inbound.is_group,
            wrong_number=wrong_number,
        ),
    )


def sections_for(templates: Templates, menu: list[Command]) -> list[MenuSection]:
    """The services of menu.toml with the commands of `menu` in each; empty ones left out."""
    usable = {c.key: c for c in menu}
    found = []
    for service in templates.vocabulary("menu")["service"]:
        items = [
            (usable[key], templates.command_info(key))
            for key in service["commands"]
            if key in usable
        ]
        if items:
            officer = service.get("officer", False)
            found.append(MenuSection(service["name"], service.get("hint", ""), items, officer))
    return sorted(found, key=lambda s: s.officer)  # numbered as the menu shows them


@dataclass(frozen=True, slots=True)
class MenuSection:
    name: str
    hint: str
    items: list[tuple[Command, dict[str, str]]]
    officer: bool
