"""Platform nicknames (issue 11, item 9): people made by `lianxin admin grant` or an import
are found and shown by the nickname their platform sends; a changed nickname is followed;
a OneBot group card, which differs per group, is never kept; a name of their own
(registered, imported, seeded, /改称呼) always wins. OneBot v11 over real loopback HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.app import RUNTIME
from models.people import Identity, Organization, Person
from models.timebank_export import timebank_rows
from tests.onebot_channel.tools import SECRET, Cqhttp, text
from tests.webtools import admin_config, login

ZHANG = 55550001


@pytest.fixture
def config(db_url: str):
    return admin_config(db_url, onebot={"enabled": True, "secret": SECRET})


@pytest.fixture
async def qq(client, demo) -> Qq:
    return Qq(client)


class Qq(Cqhttp):
    async def say(
        self,
        words: str,
        *,
        nickname: str,
        card: str = "",
        group: int | None = None,
        user: int = ZHANG,
    ) -> str:
        """What the bot answers `user`, whose account is called `nickname` (and, in a
        group, `card` there)."""
        if group is None:
            payload = self.private(words, user=user)
        else:
            payload = self.group([text(words)], user=user, group_id=group)
        payload["sender"] = {"user_id": user, "nickname": nickname, "card": card}
        answer = await self.send(payload)
        await self.client.server.app[RUNTIME].settle()
        assert answer is not None
        return str(answer["reply"])


async def granted_by_cli(client: Any, role: str = "member", code: str = "ZB001") -> Person:
    """What `lianxin admin grant onebot:55550001 member ZB001` does (bot/cli.py)."""
    identity = client.server.app[RUNTIME].identity
    person = await identity.ensure_person("onebot", str(ZHANG))
    await identity.grant(person, role, await Organization.get(code=code), granted_by="cli")
    return person


async def stored(person_id: int) -> tuple[str, str, str]:
    """(the person's name as shown, their latest nickname, the account's nickname)."""
    person = await Person.get(id=person_id)
    account = await Identity.get(platform="onebot", user_id=str(ZHANG))
    return person.name, person.nickname, account.nickname


async def test_a_cli_granted_person_who_writes_is_found_and_shown_by_nickname(qq, console, client):
    person = await granted_by_cli(client)
    assert (await stored(person.id))[0] == f"居民（编号{person.id}）"
    assert "没有找到“张三”" in await console.one("/兑换 张三 1 米", user="secretary")

    assert "您好，张三！" in await qq.say("/我", nickname="张三")
    assert await stored(person.id) == ("张三", "张三", "张三")
    # found by an officer, and shown by the nickname in a list, a reply and a ledger
    claim = await qq.say("/登记时长 敬老院陪老人聊天 2小时", nickname="张三")
    number = re.search(r"编号 (\d+)", claim).group(1)
    queue = await console.one("/时长审核", user="secretary")
    assert f"{number}. 张三 " in queue
    await console.one(f"/确认时长 {number}", user="secretary")
    done = await console.one("/兑换 张三 1 理发一次", user="secretary")
    assert done.startswith("已兑换：张三 用 1.0 小时兑换“理发一次”")
    head, rows = await timebank_rows("SQ001")
    names = [row[head.index("姓名")] for row in rows] if "姓名" in head else []
    assert names == ["张三", "张三"], (head, rows)


async def test_a_nickname_change_is_followed(qq, console, client):
    person = await granted_by_cli(client)
    await qq.say("/我", nickname="张三")
    assert "您好，张三丰！" in await qq.say("/我", nickname="张三丰")
    assert await stored(person.id) == ("张三丰", "张三丰", "张三丰")
    found = await console.one("/兑换 张三丰 1 米", user="secretary")
    assert found.startswith("张三丰 的时间银行余额只有 0.0 小时")
    assert "没有找到“张三”" in await console.one("/兑换 张三 1 米", user="secretary")


async def test_a_group_card_differing_per_group_never_flips_the_name(qq, client, monkeypatch):
    person = await granted_by_cli(client)
    client.server.app[RUNTIME].identity.cache_seconds = 0  # every message reads the row
    writes: list[str] = []
    keep = Identity.note_nickname

    async def counted(identity_id: int, person_id: int, nickname: str) -> None:
        writes.append(nickname)
        await keep(identity_id, person_id, nickname)

    monkeypatch.setattr(Identity, "note_nickname", counted)
    await qq.say("/我", nickname="张三")
    for group, card in ((111111, "一楼张三"), (222222, "张师傅"), (111111, "一楼张三")):
        # a known person is greeted, and kept, by the account's name, not the card
        assert "您好，张三！" in await qq.say("/我", nickname="张三", card=card, group=group)
        assert await stored(person.id) == ("张三", "张三", "张三")
    await qq.say("/我", nickname="张三")
    assert writes == ["张三"]  # once, when it changed; never per message


async def test_a_name_of_their_own_is_never_overwritten(qq, console, client):
    # imported with a real name (models/roster.py), the account linked later
    branch = await Organization.get(code="ZB001")
    person = await Person.create(
        real_name="李四", display_name="李四", phone="13800001234", home_org=branch
    )
    await Identity.create(platform="onebot", user_id=str(ZHANG), person=person)
    await client.server.app[RUNTIME].identity.grant(person, "member", branch, "import")
    assert "您好，李四！" in await qq.say("/我", nickname="小李")
    await qq.say("/我", nickname="小李子")
    after = await Person.get(id=person.id)
    assert (after.real_name, after.display_name, after.nickname) == ("李四", "李四", "小李子")
    # an officer may name them by the nickname, and reads the real name
    found = await console.one("/兑换 小李子 1 米", user="secretary")
    assert found.startswith("李四 的时间银行余额只有 0.0 小时")
    assert "找到 1 人：\n李四 13800001234" in await console.one("/查人 李子", user="secretary")
    # the seeded 王书记 writes with a console name: still 王书记
    await console.one("/我", user="secretary", name="secretary")
    secretary = await Person.get(identities__user_id="secretary")
    assert (secretary.name, secretary.display_name) == ("王书记", "王书记")


async def test_a_name_chosen_with_rename_outlives_nickname_changes(qq):
    assert "怎么称呼您" in await qq.say("/改称呼", nickname="阿强")
    await qq.say("强哥", nickname="阿强")
    assert "您好，强哥！" in await qq.say("/我", nickname="阿强2")
    person = await Person.get(identities__user_id=str(ZHANG))
    assert (person.name, person.nickname) == ("强哥", "阿强2")


async def test_the_workbench_shows_and_finds_people_by_the_same_rule(qq, console, client):
    # a member on the roster without a name (the account linked, nothing said yet)
    branch = await Organization.get(code="ZB001")
    person = await Person.create(phone="13800005678", home_org=branch, relation_status="registered")
    await Identity.create(platform="onebot", user_id=str(ZHANG), person=person)
    await login(client, console, "secretary")
    listed = await (await client.get("/admin/people")).text()
    assert f'/admin/people/{person.id}">居民（尾号5678）</a>' in listed
    await qq.say("/我", nickname="王五")
    found = await (await client.get("/admin/people?q=王五")).text()
    assert f'/admin/people/{person.id}">王五</a>' in found
    detail = await (await client.get(f"/admin/people/{person.id}")).text()
    assert '<h1 id="person-name">王五</h1>' in detail
