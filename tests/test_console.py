"""The dispatcher as a user meets it, over the /console channel (real HTTP on loopback)."""

from __future__ import annotations

from models.events import DialogState, InboundEvent
from models.people import GroupBinding, Identity, Person


async def test_help_lists_commands_with_examples(console):
    text = await console.one("/帮助 全部")
    assert text.startswith("连心 · 可用命令")
    assert "1. /帮助 — 查看可用命令" in text
    assert "/我 — 看看我是谁" in text
    # A resident is not shown officer commands.
    assert "/绑定" not in text


async def test_help_for_one_command(console):
    text = await console.one("/帮助 绑定")
    assert "用法：/绑定 组织代码" in text
    assert "例如：/绑定 SQ001" in text
    assert "也可以用：/bind" in text


async def test_english_and_chinese_names_are_the_same_command(console):
    assert await console.one("/help") == await console.one("/帮助")
    # One meaning each: /菜单 and /menu are the help menu, /活动 and /activities the list.
    assert await console.one("/menu") == await console.one("/菜单") == await console.one("/帮助")
    assert await console.one("/activities") == await console.one("/活动")


async def test_phone_keyboard_variants(console):
    expected = await console.one("/我")
    # Full-width slash, Chinese-keyboard slash, ideographic space, @mention, trailing spaces.
    for typed in ["／我", "、我", "　/我　", "@连心 /我", "@连心\u2005/我  "]:
        assert await console.one(typed) == expected, typed


async def test_unknown_command_suggests_closest(console):
    text = await console.one("/帮组")
    assert "没有“/帮组”这个命令" in text
    assert "您是不是想输入 /帮助 ？" in text


async def test_me_for_new_person_creates_nothing(console, db_url):
    text = await console.one("/我", user="bob", name="老王")
    assert "您好，老王！" in text
    assert "平台身份：console:bob" in text
    assert "尚未建立" in text
    assert await Identity.filter(user_id="bob").count() == 0


async def test_officer_command_refused_for_resident_and_changes_nothing(console, demo):
    text = await console.one("/绑定 SQ001", user="bob", group="g1")
    assert text == (
        "/绑定 只有党务工作者可以使用，您的请求没有执行。\n如需开通，请联系本组织的党务工作者。"
    )
    assert await GroupBinding.all().count() == 0


async def test_officer_binds_group_and_me_shows_it(console, demo):
    text = await console.one("/绑定 sq001", user="secretary", group="g1")
    assert text == (
        "已把本群绑定到“和平社区党委”（SQ001）。之后在本群使用的命令默认属于这个组织。"
        "工作通知（新诉求、新登记等）只发给党务工作者私聊或工作群，不会发到本群。"
    )
    binding = await GroupBinding.get(platform="console", chat_id="g1").prefetch_related("org")
    assert binding.org.code == "SQ001"
    me = await console.one("/我", user="bob", group="g1")
    assert "本群：已绑定 和平社区党委（SQ001）" in me


async def test_glued_argument_and_chinese_colon(console, demo):
    assert "已把本群绑定" in await console.one("/绑定SQ001", user="secretary", group="g2")
    assert "已把本群绑定" in await console.one("/绑定：SQ001", user="secretary", group="g3")


async def test_officer_cannot_bind_outside_scope(console, demo):
    text = await console.one("/绑定 SQ002", user="secretary", group="g1")
    assert text == "您不是“光明社区党委”的党务工作者，不能操作这个组织。"
    assert await GroupBinding.all().count() == 0


async def test_unknown_org_code(console, demo):
    text = await console.one("/绑定 NOPE", user="secretary", group="g1")
    assert text == "没有找到组织代码“NOPE”。发送 /组织 查看全部组织代码。"


async def test_missing_and_extra_arguments_show_usage(console, demo):
    for typed in ["/绑定", "/绑定 SQ001 多余"]:
        text = await console.one(typed, user="secretary", group="g1")
        assert text == "/绑定 的格式不对。\n用法：/绑定 组织代码 [工作群]\n例如：/绑定 SQ001", typed


async def test_group_only_command_in_private(console, demo):
    assert await console.one("/绑定 SQ001", user="secretary") == "/绑定 需要在群里使用。"


async def test_group_ignores_chatter_but_answers_mentions(console):
    assert await console.say("大家好", group="g1") == []
    assert await console.say("", group="g1") == []
    text = await console.one("你好", group="g1", mention=True)
    assert "“/帮助 编号”" in text


async def test_private_plain_words_and_menu_numbers(console):
    assert "回复编号" in await console.one("你好")
    assert await console.one("帮助") == await console.one("/帮助")
    assert await console.one("2") == await console.one("/帮助 2")


async def test_dialog_survives_in_database_and_finishes(console, db_url):
    assert "怎么称呼您" in await console.one("/改称呼", user="carol")
    state = await DialogState.get(user_key="console:carol")
    assert (state.dialog, state.step) == ("rename", "name")
    assert await console.one("小林", user="carol") == "好的，以后就称呼您“小林”。"
    assert await DialogState.filter(user_key="console:carol").count() == 0
    person = await Person.get(identities__user_id="carol")
    assert person.display_name == "小林"
    assert "您好，小林！" in await console.one("/我", user="carol")


async def test_dialog_invalid_answer_keeps_step(console, db_url):
    await console.one("/改称呼", user="carol")
    assert "1 到 20 个字" in await console.one("一" * 21, user="carol")
    assert await DialogState.filter(user_key="console:carol").count() == 1


async def test_dialog_invalid_answer_asks_the_same_step_again(console, db_url):
    await console.one("/改称呼", user="carol")
    assert await console.one("一" * 21, user="carol") == (
        "称呼需要 1 到 20 个字，请重新输入（发送 /取消 退出）。"
    )
    state = await DialogState.get(user_key="console:carol")
    assert (state.dialog, state.step) == ("rename", "name")
    assert await console.one("小林", user="carol") == "好的，以后就称呼您“小林”。"


async def test_a_stored_step_no_handler_answers_is_cleared_and_told(console, db_url):
    # A step renamed by an upgrade while someone was half-way: not silence, not a guess.
    await console.one("/改称呼", user="carol")
    await DialogState.filter(user_key="console:carol").update(step="nickname")
    assert await console.one("小林", user="carol") == (
        "刚才的填写已经无法继续（这一步已不再使用），已自动结束，您这句话没有被当作回答。\n"
        "请重新发送命令，从头再来。"
    )
    assert await DialogState.filter(user_key="console:carol").count() == 0
    assert not await Person.filter(display_name="小林").exists()


async def test_cancel_leaves_dialog(console, db_url):
    await console.one("/改称呼", user="carol")
    assert await console.one("/取消", user="carol") == "已取消，刚才填写的内容没有保存。"
    assert await DialogState.filter(user_key="console:carol").count() == 0
    # The next plain words are not taken as the answer.
    assert "没太明白您的意思" in await console.one("小林", user="carol")
    assert await console.one("/取消", user="carol") == "当前没有正在填写的内容。"


async def test_expired_dialog_says_so_instead_of_taking_answer(console, db_url):
    from datetime import UTC, datetime, timedelta

    await console.one("/改称呼", user="carol")
    await DialogState.filter(user_key="console:carol").update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    text = await console.one("小林", user="carol")
    assert text.startswith("刚才的填写已超时（超过 10 分钟没有回复）")
    assert await DialogState.filter(user_key="console:carol").count() == 0
    assert await Person.filter(display_name="小林").count() == 0


async def test_retried_delivery_acts_once_and_repeats_reply(console, db_url):
    first = await console.say("/改称呼", user="dave", event_id="m-1")
    again = await console.say("/改称呼", user="dave", event_id="m-1")
    assert len(first) == 1 and "怎么称呼您" in first[0]
    assert first == again
    assert await InboundEvent.filter(event_key="m-1").count() == 1
    answer = await console.say("大卫", user="dave", event_id="m-2")
    # A retry of the answer after the dialog finished must not be taken as new input.
    assert await console.say("大卫", user="dave", event_id="m-2") == answer
    assert await Person.filter(display_name="大卫").count() == 1


async def test_read_only_retry_is_recorded_in_batch(console, db_url):
    first = await console.say("/我", user="erin", event_id="r-1")
    assert len(first) == 1 and "平台身份：console:erin" in first[0]
    assert await console.say("/我", user="erin", event_id="r-1") == first
    row = await InboundEvent.get(platform="console", event_key="r-1")
    assert row.command == "me"


async def test_emoji_long_and_empty_text(console):
    assert "没有“/😀”这个命令" in await console.one("/😀")
    long_text = "长" * 4000
    assert "没太明白您的意思" in await console.one(long_text)
    assert await console.say("") == []


async def test_bad_console_bodies_get_400(client):
    for body in [b"not json", b"[1,2]", b'{"text": "hi"}', b'{"user": 5, "text": "x"}']:
        resp = await client.post("/console", data=body)
        assert resp.status == 400, body


async def test_healthz_and_metrics(client, console):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert (await resp.json())["database"] is True
    await console.say("/我", event_id="x1")
    await console.say("/我", event_id="x1")
    text = await (await client.get("/metrics")).text()
    assert 'lianxin_events_total{command="me",outcome="ok",platform="console"} 1.0' in text
    assert 'lianxin_dedup_hits_total{platform="console"} 1.0' in text
    assert "lianxin_event_seconds_bucket" in text


async def test_oversize_body_gets_413(client):
    resp = await client.post("/console", data=b"x" * 70_000)
    assert resp.status == 413


async def test_pushes_come_back_to_the_console_chat(console, demo):
    await console.one("/绑定 SQ001", user="secretary", group="g1")
    resp = await console.client.post(
        "/console", json={"user": "amy", "chat": "g1", "group": True, "text": "/诉求 路灯坏了"}
    )
    body = await resp.json()
    assert body["replies"][0].startswith("诉求已提交，编号 Q")
    # The notice to the group arrives after the reply; the next message in g1 carries it.
    from bot.app import RUNTIME

    await console.client.app[RUNTIME].settle()
    resp = await console.client.post(
        "/console", json={"user": "secretary", "chat": "g1", "group": True, "text": "/我"}
    )
    pushes = (await resp.json())["pushes"]
    assert len(pushes) == 1 and pushes[0].startswith("新诉求 Q")
    assert "路灯坏了" in pushes[0]
