"""OneBot v11 channel: the published sample payloads and private and group conversations."""

from __future__ import annotations

import logging

from bot.app import create_app
from bot.channels.onebot import MAX_REPLY_CHARS, message_content
from models.events import InboundEvent
from models.people import GroupBinding
from tests.conftest import make_config
from tests.onebot_channel.tools import (
    BIND_USAGE,
    BOUND,
    DENIED_BIND,
    GROUP,
    IMAGE_UNSUPPORTED,
    SECRET,
    SELF_ID,
    USER,
    Cqhttp,
    at,
    grant_officer,
    op,
    sample,
    text,
)
from tests.talk_texts import GREETING_GROUP, PLAIN_HINT, PLAIN_HINT_GROUP

# -- the sample payloads ---------------------------------------------------


async def test_sample_private_message(cq):
    assert await cq.send(sample("private_message")) == op(PLAIN_HINT)


async def test_sample_group_message_mentions_bot(cq):
    # reply + at(bot) + text + face + image: the @ makes the bot answer plain words.
    assert await cq.send(sample("group_message")) == op(PLAIN_HINT_GROUP, at_sender=True)


async def test_sample_group_message_cq_string(cq):
    assert await cq.send(sample("group_message_cqstring")) == op(PLAIN_HINT_GROUP, at_sender=True)


async def test_sample_group_increase_is_logged_and_answered_204(cq, caplog):
    with caplog.at_level(logging.INFO, logger="lianxin.onebot"):
        assert await cq.send(sample("group_increase")) is None
    joined = [r for r in caplog.records if r.name == "lianxin.onebot"]
    assert joined and joined[0].levelno == logging.INFO
    assert "12345678" in joined[0].getMessage() and "123456789" in joined[0].getMessage()


async def test_quick_operation_matches_sample_shapes(cq):
    group_sample = sample("quick_operation_group")
    private_sample = sample("quick_operation_private")
    for payload in (cq.private("/我"), cq.group("/我")):
        answer = await cq.send(payload)
        assert set(answer) <= set(group_sample)
        assert set(private_sample) <= set(answer)
        for key, value in answer.items():
            assert type(value) is type(group_sample[key]), key


def test_sample_content_extraction():
    array = sample("group_message")
    string = sample("group_message_cqstring")
    expected = ("[第一部分] 看看我刚拍的照片, a&b", True, "text")
    assert message_content(array["message"], str(SELF_ID)) == expected
    assert message_content(string["message"], str(SELF_ID)) == expected
    assert message_content(array["raw_message"], str(SELF_ID)) == expected


# -- conversations ---------------------------------------------------------


async def test_private_help(cq):
    answer = await cq.send(cq.private("/帮助"))
    assert answer["reply"].startswith("连心 · 可用命令")
    assert answer["at_sender"] is False
    assert answer["auto_escape"] is True


async def test_group_me_mentions_sender(cq):
    answer = await cq.send(cq.group([text("/我")]))
    assert answer["at_sender"] is True
    assert "平台身份：onebot:12345678" in answer["reply"]
    assert "您好，群名片！" in answer["reply"]  # sender.card wins over nickname
    assert "本群：尚未绑定组织" in answer["reply"]


async def test_private_display_name_is_nickname(cq):
    answer = await cq.send(cq.private("/我"))
    assert "您好，小不点！" in answer["reply"]
    assert "本群" not in answer["reply"]


async def test_group_chatter_without_mention_is_ignored(cq):
    assert await cq.send(cq.group([text("大家好")])) is None
    assert await cq.send(cq.group("大家好")) is None
    # An @ of someone else is not an @ of the bot.
    assert await cq.send(cq.group([at(55555), text(" 你好")])) is None
    assert await cq.send(cq.group([at("all"), text(" 开会了")])) is None
    # Nothing but a face / a reply: nothing to say.
    assert await cq.send(cq.group([{"type": "face", "data": {"id": "178"}}])) is None


async def test_group_mention_gets_an_answer(cq):
    answer = await cq.send(cq.group([at(SELF_ID), text(" 你好")]))
    assert answer == op(GREETING_GROUP, at_sender=True)


async def test_group_command_after_mention_of_bot_or_other(cq):
    expected = await cq.send(cq.group([text("/我")]))
    assert await cq.send(cq.group([at(SELF_ID), text(" /我")])) == expected
    assert await cq.send(cq.group(f"[CQ:at,qq={SELF_ID}] /我")) == expected
    assert await cq.send(cq.group([at(55555), text(" /我")])) == expected


async def test_cq_string_equals_array_format(cq):
    pairs = [
        ([text("/帮助")], "/帮助"),
        ([at(SELF_ID), text(" 你好")], f"[CQ:at,qq={SELF_ID}] 你好"),
        (
            [{"type": "reply", "data": {"id": "9"}}, at(SELF_ID), text(" /我 "), at(SELF_ID)],
            f"[CQ:reply,id=9][CQ:at,qq={SELF_ID}] /我 [CQ:at,qq={SELF_ID}]",
        ),
        ([text("大家好")], "大家好"),
    ]
    for array, string in pairs:
        assert await cq.send(cq.group(array)) == await cq.send(cq.group(string)), string
    assert await cq.send(cq.private([text("/帮助")])) == await cq.send(cq.private("/帮助"))


async def test_reply_with_cq_code_text_goes_out_escaped(cq):
    assert "怎么称呼您" in (await cq.send(cq.private("/改称呼")))["reply"]
    # The user types the literal text "[CQ:at,qq=all]": the CQ string arrives escaped.
    answer = await cq.send(cq.private("&#91;CQ:at&#44;qq=all&#93;"))
    assert answer == op("好的，以后就称呼您“[CQ:at,qq=all]”。")
    me = await cq.send(cq.private("/我"))
    assert "您好，[CQ:at,qq=all]！" in me["reply"]
    assert me["auto_escape"] is True


async def test_image_only_private_message_says_unsupported(cq):
    image = {"type": "image", "data": {"file": "123.jpg"}}
    assert await cq.send(cq.private([image])) == op(IMAGE_UNSUPPORTED)
    assert await cq.send(cq.private("[CQ:image,file=123.jpg]")) == op(IMAGE_UNSUPPORTED)


async def test_emoji_round_trip(cq):
    await cq.send(cq.private("/改称呼"))
    assert await cq.send(cq.private([text("小林🎉👍🏻")])) == op("好的，以后就称呼您“小林🎉👍🏻”。")
    assert "您好，小林🎉👍🏻！" in (await cq.send(cq.private("/我")))["reply"]


async def test_four_thousand_character_message(cq):
    long = "长" * 3990 + "🎉" * 10
    assert await cq.send(cq.private(long)) == op(PLAIN_HINT)
    await cq.send(cq.private("/改称呼"))
    answer = await cq.send(cq.private([text(long)]))
    assert answer == op("称呼需要 1 到 20 个字，请重新输入（发送 /取消 退出）。")


async def test_very_long_reply_is_cut(aiohttp_client, db_url):
    # With paging off ([bot] page_chars = 0) the channel still cuts to OneBot's limit.
    config = make_config(db_url, onebot={"enabled": True, "secret": SECRET}, bot={"page_chars": 0})
    cq = Cqhttp(await aiohttp_client(create_app(config)))
    answer = await cq.send(cq.private("/" + "长" * 5000))
    assert len(answer["reply"]) == MAX_REPLY_CHARS
    assert answer["reply"].startswith("没有“/长长长")
    assert answer["reply"].endswith("长…")


async def test_bind_without_argument_as_resident_and_as_officer(cq, client, demo):
    assert await cq.send(cq.group([text("/绑定")])) == op(DENIED_BIND, at_sender=True)
    await grant_officer(client, str(USER), "SQ001")
    assert await cq.send(cq.group([text("/绑定")])) == op(BIND_USAGE, at_sender=True)
    assert await GroupBinding.all().count() == 0


async def test_officer_binds_group(cq, client, demo):
    await grant_officer(client, str(USER), "SQ001")
    answer = await cq.send(cq.group([at(SELF_ID), text(" /绑定 SQ001")]))
    assert answer == op(BOUND, at_sender=True)
    binding = await GroupBinding.get(platform="onebot", chat_id=str(GROUP)).prefetch_related("org")
    assert binding.org.code == "SQ001"
    # Anyone in the group now sees the binding.
    me = await cq.send(cq.group("/我", user=22223333))
    assert "本群：已绑定 和平社区党委（SQ001）" in me["reply"]
    assert "平台身份：onebot:22223333" in me["reply"]


async def test_anonymous_group_message(cq):
    payload = cq.group(
        [text("/我")],
        user=80000000,
        sub_type="anonymous",
        anonymous={"id": 2333, "name": "小鸡", "flag": "AAAAAA==|小鸡"},
    )
    answer = await cq.send(payload)
    assert answer["at_sender"] is True
    assert "平台身份：onebot:80000000" in answer["reply"]
    assert "您好，小鸡！" in answer["reply"]
    assert "AAAAAA" not in answer["reply"]


async def test_bot_own_messages_are_ignored(cq):
    assert await cq.send(cq.private("/帮助", user=SELF_ID)) is None
    assert await cq.send(cq.group([text("/帮助")], user=SELF_ID)) is None
    sent = cq.group([text("/帮助")], post_type="message_sent", user=SELF_ID)
    assert await cq.send(sent) is None
    assert await InboundEvent.all().count() == 0
