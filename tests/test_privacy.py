"""What belongs to one person or to officers never lands in a residents' group (issue 11,
item 8): officer notices go to the officers in private or to their work group, officer
commands with personal data answer in private, and phone and ID-card numbers are masked in
everything a group reads."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from bot.app import RUNTIME
from models.deliveries import Delivery
from models.people import GroupBinding, Organization, officer_targets
from models.requests import ServiceRequest
from tests.conftest import Console, grant_officer
from tests.jobs import fire_job

PHONE = "13812341234"
ID_CARD = "11010519491231002X"
FULL_NUMBER = re.compile(r"1[3-9]\d{9}|\d{17}[\dXx]")
# How each officer-only notice begins (templates request_notice_*, checkin_notice, …).
OFFICER_ONLY = ("新诉求", "转来诉求", "差评提醒", "催办", "超时提醒", "时限提醒", "新的党员登记")
SENT = " 的结果已私信发送给您，请查看与我的私聊。"


class GroupWatch(Console):
    """A console that keeps every reply said in a group."""

    def __init__(self, client) -> None:
        super().__init__(client)
        self.group_replies: list[str] = []

    async def say(self, text: str, **kw: Any) -> list[str]:
        replies = await super().say(text, **kw)
        if kw.get("group"):
            self.group_replies += replies
        return replies


@pytest.fixture
async def town(client, demo) -> GroupWatch:
    """g1: SQ001's residents' group; gw: SQ001's officers' work group; zb1 officer of ZB001."""
    c = GroupWatch(client)
    await grant_officer("zb1", "ZB001")
    assert "不会发到本群" in await c.one("/绑定 SQ001", user="secretary", group="g1")
    bound = await c.one("/绑定 SQ001 工作群", user="secretary", group="gw")
    assert "本群是党务工作者的工作群" in bound
    return c


def number_in(text: str) -> str:
    m = re.search(r"Q\d{10}", text)
    assert m, text
    return m.group(0)


async def group_texts(*chats: str) -> list[str]:
    return [d.text for d in await Delivery.filter(target__in=[f"console:{c}" for c in chats])]


async def test_officer_targets_are_work_groups_and_officers_never_residents(town):
    sq001, zb001, wg01 = [await Organization.get(code=c) for c in ("SQ001", "ZB001", "WG01")]
    assert await officer_targets(sq001) == ["console:gw", "console:secretary"]
    # a branch with its own officer: that officer; a grid with none: the community above it
    assert await officer_targets(zb001) == ["console:zb1"]
    assert await officer_targets(wg01) == ["console:gw", "console:secretary"]
    assert await officer_targets(None) == []
    # rebinding the work group as a residents' group takes it off the list
    await town.one("/绑定 SQ001", user="secretary", group="gw")
    assert (await GroupBinding.get(chat_id="gw")).purpose == ""
    assert await officer_targets(sq001) == ["console:secretary"]
    assert "/绑定 的格式不对" in await town.one("/绑定 SQ001 居民群", user="secretary", group="gw")


async def test_nothing_private_or_officer_only_reaches_a_residents_group(town, client):
    c = town
    rt = client.server.app[RUNTIME]
    # a request filed in the residents' group, with a phone and an ID-card number
    filed = await c.one(f"/诉求 3号楼漏水，联系{PHONE}，身份证{ID_CARD}", user="bob", group="g1")
    no = number_in(filed)
    # one filed in private
    await c.one("/诉求 家里老人需要助餐", user="carol")
    private_no = number_in(await c.one("SQ001", user="carol"))
    # a registration (name and masked phone), urging, a low score
    for answer in ("/登记", "张三", PHONE, "ZB001", "1", "是"):
        await c.one(answer, user="dave")
    await c.one(f"/催办 {no}", user="bob", group="g1")
    await c.one(f"/接单 {no}", user="secretary", group="gw")
    await c.one(f"/回单 {no} 已修好，师傅电话13900001111", user="secretary", group="gw")
    await c.one(f"/评价 {no} 1 太慢了，打我电话{PHONE}", user="bob", group="g1")
    # the overdue reminder job
    job = next(j for j in rt.registry.jobs if j.name == "requests.deadline_reminders")
    late = (await ServiceRequest.get(number=private_no)).due_at + timedelta(hours=1)
    await fire_job(rt, job, late)
    # officer commands with personal data, typed in the residents' group
    for command in ("/查人 张三", "/流动党员", "/待确认", "/党员统计", f"/工单 {no}", "/工单"):
        assert await c.one(command, user="secretary", group="g1") == command.split()[0] + SENT
    found = [
        d.text for d in await Delivery.filter(target="console:secretary", purpose="private_answer")
    ]
    assert any(f"张三 {PHONE}" in t for t in found)  # the officer in scope sees it in full
    assert any("3号楼漏水" in t and f"联系{PHONE}" in t for t in found)

    # the work group and the officer in private heard every officer notice
    work = await group_texts("gw") + [
        d.text
        for d in await Delivery.filter(
            target__in=["console:secretary", "console:zb1"]  # dave's branch is ZB001
        ).exclude(purpose="private_answer")
    ]
    for start in ("新诉求", "差评提醒", "催办", "超时提醒", "新的党员登记"):
        assert any(t.startswith(start) for t in work), start
    # what residents' groups read: notices to them and replies said there
    residents = await group_texts("g1") + c.group_replies
    assert residents, "the residents' group heard nothing at all"
    for text in residents:
        assert not FULL_NUMBER.search(text), text
        assert not text.startswith(OFFICER_ONLY), text
        assert "已修好" not in text, text  # the officer's words go to the requester alone
    # the notices in the work group are masked too (it is a group)
    for text in await group_texts("gw"):
        assert not FULL_NUMBER.search(text), text
    assert any("1101**********002X" in t for t in work)
