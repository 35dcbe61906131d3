"""说人话（一）：打错的命令、拼音命令、短菜单、命令后的中文标点（/console，两种数据库）。"""

from __future__ import annotations

import pytest

from models.checkin import CheckIn
from models.events import DialogState
from tests.conftest import grant_officer
from tests.talk_texts import SERVICES


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001, whose officer is `secretary`."""
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    return console


async def test_trailing_punctuation_after_a_command_word(town):
    c = town
    menu = await c.one("/帮助")
    for typed in ("/帮助。", "/帮助！", "/帮助？", "/帮助，", "/帮助、", "／帮助。"):
        assert await c.one(typed) == menu, typed
    assert await c.one("/帮助 活动。") == await c.one("/帮助 活动")
    assert "/。" not in await c.one("/。")


async def test_the_nearest_command_is_suggested(town):
    c = town
    text = await c.one("/帮组", group="g1")
    assert text == "没有“/帮组”这个命令。\n您是不是想输入 /帮助 ？\n发送 /帮助 查看可用命令。"
    # In private the suggestion can be taken with "1".
    text = await c.one("/帮组")
    assert "您是不是想输入 /帮助 ？回复 1 就按 /帮助 办理。" in text
    assert (await c.one("1")).startswith("连心 · 可用命令")
    assert not await DialogState.all().count()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("/活东", "/活动"),
        ("/huodong", "/活动"),
        ("/jifen", "/积分"),
        ("/bangzhu", "/帮助"),
        ("/进渡 Q1", "/进度"),
    ],
)
async def test_a_sure_guess_of_a_read_only_command_runs_it(town, typed, meant):
    c = town
    text = await c.one(typed, user="bob")
    right = await c.one(meant + typed.partition(" ")[1] + typed.partition(" ")[2], user="bob")
    assert text == f"（已按 {meant} 处理）\n{right}"


async def test_three_meetings_typed_with_a_digit(town):
    c = town
    text = await c.one("/三会1课", user="secretary")
    assert text == "（已按 /三会一课 处理）\n" + await c.one("/三会一课", user="secretary")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("/报道", "/报到"),
        ("/签道 12 4821", "/签到 12 4821"),
        ("/qiandao 12 4821", "/签到 12 4821"),
        ("/取消报明 12", "/取消报名 12"),
        ("/诉球 路灯坏了", "/诉求 路灯坏了"),
    ],
)
async def test_a_command_that_changes_state_is_only_offered(town, typed, meant):
    c = town
    text = await c.one(typed, user="bob", group="g1")
    assert f"您是不是想输入 {meant.split()[0]} ？" in text
    text = await c.one(typed, user="bob")
    assert f"回复 1 就按 {meant} 办理。" in text
    state = await DialogState.get(user_key="console:bob")
    assert (state.dialog, state.step) == ("offer", "confirm")


async def test_an_officer_typing_jiedan_is_offered_the_accept_command(town):
    c = town
    text = await c.one("/jiedan Q1", user="secretary", group="g1")
    assert "您是不是想输入 /接单 ？" in text
    # Residents may not use it: they are not offered it.
    assert "/接单" not in await c.one("/jiedan Q1", user="bob", group="g1")


async def test_the_offer_runs_on_one_and_only_then(town):
    c = town
    await grant_officer("sq", "SQ001")
    text = await c.one("/报道 SQ001", user="secretary")
    assert "回复 1 就按 /报到 SQ001 办理。" in text
    assert not await CheckIn.all().count()
    done = await c.one("1", user="secretary")
    assert await CheckIn.all().count() == 1, done
    # Anything else than "1" is read as a new message, and the offer is gone.
    await c.one("/报道 SQ001", user="secretary")
    after_offer = await c.one("你好", user="secretary")
    assert after_offer.startswith("您好！我是连心服务助手。")
    assert after_offer == await c.one("你好", user="secretary")
    assert await c.one("1", user="secretary") == await c.one("/帮助 1", user="secretary")


async def test_the_short_menu_of_a_resident(town):
    c = town
    menu = await c.one("/帮助", user="bob")
    assert menu == SERVICES + "回复编号看用法；发“/帮助 全部”看所有命令"
    assert "党务" not in menu and "/发布活动" not in await c.one("2", user="bob")
    service = await c.one("1", user="bob")
    assert service.startswith("【诉求】\n1. 提诉求（报修、环境卫生、法律咨询、就业、养老等）\n")
    assert "　例：/诉求 3号楼2单元楼道灯坏了" in service
    assert service == await c.one("/帮助 1", user="bob")
    assert (await c.one("9", user="bob")).startswith("没有这个编号，请从下面选：\n连心 · 可用命令")
    # The whole list is longer than a phone screen: a page at a time, "更多" for the next.
    first = await c.one("/帮助 全部", user="bob")
    assert first.startswith("连心 · 可用命令") and first.endswith("页，回复“更多”看下一页）")
    assert len(first) <= 300 + 30
    pages = [first]
    while pages[-1].endswith("看下一页）"):
        pages.append(await c.one("更多", user="bob"))
    assert len(pages) >= 3 and all(len(p) <= 330 for p in pages)
    full = "\n".join(pages)
    assert "/我的诉求" in full and "/积分" in full
    assert "第 2/" in pages[1] or pages[1] == pages[-1]
    assert await c.one("更多", user="bob") == "没有更多内容了。"


async def test_the_short_menu_of_an_officer_in_the_group(town):
    c = town
    menu = await c.one("/帮助", user="secretary", group="g1")
    lines = menu.splitlines()
    assert lines[0] == "连心 · 可用命令（本群：和平社区党委）"
    assert lines[-2] == "党务：6 工单　7 审核　8 广播　9 工作台"
    assert lines[-1] == "在群里请以 / 开头或 @我。发送“/帮助 编号”看用法，“/帮助 全部”看所有命令"
    assert len(lines) <= 10
    work = await c.one("/帮助 6", user="secretary", group="g1")
    assert work.startswith("【工单】\n") and "例：/接单 Q2611220007" in work
    activities = await c.one("/帮助 2", user="secretary", group="g1")
    assert "例：/发布活动 " in activities


async def test_a_long_answer_in_a_group_is_read_on_with_more_by_its_asker_only(town):
    from models.replies import ReplyPages

    c = town
    first = await c.one("/帮助 全部", user="secretary", group="g1")
    assert first.startswith("连心 · 可用命令") and len(first) <= 330
    assert first.splitlines()[-1].startswith("（第 1/") and first.endswith("发送 /更多看下一页）")
    row = await ReplyPages.get(user_key="console:secretary", chat_key="console:g1")
    assert row.total == len(row.pages) + 1
    # Someone else in the group has nothing waiting; the asker reads page 2.
    assert await c.one("/更多", user="bob", group="g1") == "没有更多内容了。"
    second = await c.one("/更多", user="secretary", group="g1")
    assert second.splitlines()[-1].startswith(f"（第 2/{row.total} 页")
    assert second.splitlines()[0] not in first
    # A new long answer replaces what was left of the old one.
    await c.one("/帮助 全部", user="secretary", group="g1")
    assert (await ReplyPages.get(user_key="console:secretary", chat_key="console:g1")).pages == (
        row.pages
    )


async def test_pages_that_cannot_be_kept_leave_the_answer_whole(town, db_url):
    # The pages table unusable (a half-upgraded database): the whole text, never a lost rest.
    from tortoise import connections

    c = town
    await connections.get("default").execute_script("DROP TABLE reply_pages")
    whole = await c.one("/帮助 全部", user="bob")
    assert len(whole) > 600 and "看下一页" not in whole and "/我的诉求" in whole
