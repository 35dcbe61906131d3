"""A message's objects go when it is answered, not at the collector's next pass (issue #15):
a Ctx and its DialogControl do not hold each other."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from bot.context import Ctx
from bot.dialogs import DialogControl
from bot.identity import Caller
from bot.inbound import Inbound, Reply


class _Templates:
    def render(self, template: str, **variables: Any) -> str:
        return f"{template}:{variables['step']}:{variables['caller'].user_id}"


class _Runtime:
    templates = _Templates()


def _ctx() -> Ctx:
    inbound = Inbound(platform="console", user_id="amy", chat_id="amy", text="/我")
    dialog = DialogControl(None, "console:amy", "console:amy")  # type: ignore[arg-type]
    return Ctx(_Runtime(), inbound, Caller("console", "amy", "amy"), None, dialog)  # type: ignore[arg-type]


def test_a_ctx_is_freed_without_the_garbage_collector():
    enabled = gc.isenabled()
    gc.disable()
    try:
        ctx = _ctx()
        gone = [weakref.ref(ctx), weakref.ref(ctx.dialog)]
        del ctx
        assert [r() for r in gone] == [None, None]
    finally:
        if enabled:
            gc.enable()


def test_the_dialog_still_renders_for_its_ctx():
    from bot.dialogs import Dialog, Step

    class Ask(Dialog, key="test_garbage_ask", ask="ask_tpl"):
        name = Step()

    ctx = _ctx()
    assert ctx.dialog.question(Ask.name) == Reply("ask_tpl:name:amy")
    ctx.caller = Caller("console", "bob", "bob")  # refresh_caller replaces it
    assert ctx.dialog.question(Ask.name).text == "ask_tpl:name:bob"
