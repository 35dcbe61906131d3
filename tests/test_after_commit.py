"""Notices to other people leave only after the command's transaction commits."""

from __future__ import annotations

from bot.dispatcher import Dispatcher
from bot.inbound import Inbound, Reply
from bot.registry import Registry, Router
from bot.runtime import Runtime
from handlers import ROUTERS
from models.errors import DomainError
from models.people import Person
from tests.conftest import make_config

probe = Router("probe")
sent: list[str] = []


@probe.command("成功", "ok-probe", mutates=True)
async def fine(ctx):
    person = await ctx.person()
    ctx.after_commit(lambda: _record(f"told about {person.id}"))
    return Reply("ok")


@probe.command("失败", "fail-probe", mutates=True)
async def fails(ctx):
    await ctx.person()  # a write that the refusal must roll back
    ctx.after_commit(lambda: _record("must not be sent"))
    raise DomainError("unknown_org", org_code="X")


async def _record(text: str) -> None:
    sent.append(text)


async def test_after_commit_runs_only_when_committed(db_url):
    sent.clear()
    runtime = Runtime.build(make_config(db_url))
    runtime.registry = Registry([*ROUTERS, probe])
    runtime.dispatcher = Dispatcher(runtime)
    await runtime.start()
    try:
        said = await runtime.dispatcher.handle(Inbound("console", "zoe", "zoe", "/失败"))
        assert said[0].text.startswith("没有找到组织代码“X”")
        await runtime.settle()
        assert sent == []
        assert await Person.all().count() == 0  # rolled back with the refusal

        said = await runtime.dispatcher.handle(Inbound("console", "zoe", "zoe", "/成功"))
        assert [r.text for r in said] == ["ok"]
        await runtime.settle()
        person = await Person.get(identities__user_id="zoe")
        assert sent == [f"told about {person.id}"]
    finally:
        await runtime.stop()
