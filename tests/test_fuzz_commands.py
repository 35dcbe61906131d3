"""Every registered command with hostile arguments, as a resident, a member and an officer,
in private and in a bound group: never the internal-error apology, never an ERROR logged
(issue 11, item 3). The hostile strings rotate over the commands so that each string
meets many commands and the whole run stays short."""

from __future__ import annotations

import itertools
import logging

import pytest

from bot.app import RUNTIME
from bot.templates import Templates
from models.people import Person
from tests.conftest import grant_officer

HOSTILE = [
    "9" * 5000,  # a huge number
    "99999999",
    "1" * 30,  # over any 64-bit id
    "-1",
    "x" * 60_000,
    "张" * 10_000 + " 1 x",  # (the console takes 64 KB of JSON: \\u-escaped)
    "a\x00b",
    "\ud800\udfff\ud83d",  # lone surrogates
    "\u202e\u2066abc\u2069\u202a",  # bidi overrides and isolates
    "'\"“”‘’「」『』",  # quotes, unclosed too
    "Q9999999999 SQ001 " + "说明" * 3000,
    "#0",
    "{{ 7*7 }} {% for x in range(10**9) %}{% endfor %}",
    "SQ001 工作群 多余",
]


@pytest.fixture
async def town(console, demo, client):
    """secretary officer of SQ001 (bound to g1), member: a confirmed member, resident: bob."""
    await grant_officer("officer", "SQ001")
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    rt = client.server.app[RUNTIME]
    member = await rt.identity.ensure_person("console", "member", "党员甲")
    await rt.identity.grant(member, "member", None)
    await Person.filter(id=member.id).update(relation_status="registered")
    return console, rt


async def test_every_command_with_hostile_arguments(town, caplog):
    console, rt = town
    apology = Templates().render("error")
    names = sorted({cmd.names[0] for cmd in rt.registry.commands})
    strings = itertools.cycle(HOSTILE)
    users = ("bob", "member", "secretary")
    caplog.set_level(logging.ERROR)
    sent = 0
    for name in names:
        for user in users:
            arg = next(strings)
            group = "g1" if (sent % 2 == 0) else None
            replies = await console.say(f"/{name} {arg}", user=user, group=group)
            sent += 1
            assert apology not in replies, (name, user, arg[:40])
            # nothing the bot says carries the hostile controls back out
            for text in replies:
                text.encode("utf-8")
                assert "\x00" not in text and "\u202e" not in text, (name, arg[:40])
        await console.say("/取消", user="secretary")  # leave no dialog open between commands
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage()[:200] for r in errors]
    assert sent == 3 * len(names) and len(names) > 40


@pytest.mark.parametrize(
    "text",
    ["/我的诉求 " + "9" * 5000, "/流动党员 " + "1" * 30, "/公开 " + "x" * 60_000],
)
async def test_reproductions_get_the_usage(town, text):
    console, _ = town
    reply = await console.one(text, user="secretary")
    assert "的格式不对" in reply and "用法：" in reply


async def test_redeem_with_a_huge_name_gets_the_usage(town):
    console, _ = town
    reply = await console.one("/兑换 " + "张" * 10_000 + " 1 x", user="secretary")
    assert reply.startswith("/兑换 的格式不对")
