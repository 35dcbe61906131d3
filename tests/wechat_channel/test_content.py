"""WeChat plain mode: content edge cases (empty, emoji, CDATA terminator, long text, reply XML)."""

from __future__ import annotations

from bot.channels.tencent import cdata, declares_dtd, text_reply_xml
from bot.text import utf8_len
from tests.talk_texts import PLAIN_HINT
from tests.wechat_channel.tools import (
    ACCOUNT,
    OPENID,
    WHOLE,
    WechatPush,
    reply_fields,
    start,
    text_xml,
)

# -- content edge cases -----------------------------------------------------------------


async def test_empty_content_answers_success(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    assert await wechat.say("") == "success"
    assert await wechat.say("   ") == "success"
    empty_element = text_xml("x", wechat.msg_id()).replace("<Content><![CDATA[x]]></Content>", "")
    assert await wechat.exchange(empty_element) == "success"


async def test_emoji_and_cdata_terminator_round_trip(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    reply = await wechat.say("/👋🏻党建")
    assert reply.startswith("没有“/👋🏻党建”这个命令。"), reply
    # A user's "]]>" is echoed back inside CDATA without breaking the XML.
    reply = await wechat.say("/]]><x>&amp]]>")
    assert reply.startswith("没有“/]]><x>&amp]]>”这个命令。"), reply
    # "<!DOCTYPE" typed by a user sits inside CDATA: a message, not a declaration.
    reply = await wechat.say("/<!DOCTYPE html>")
    assert reply.startswith("没有“/<!doctype”这个命令。"), reply  # command words are folded


async def test_long_text_reply_fits_2048_bytes_without_sender(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url, WHOLE)
    wechat = WechatPush(client)
    assert await wechat.say("字" * 4000) == PLAIN_HINT
    reply = await wechat.say("/" + "字" * 4000)
    assert utf8_len(reply) <= 2048
    assert reply.startswith("没有“/字字字")
    assert reply.endswith("…")


def test_reply_xml_helpers():
    assert cdata("a]]>b") == "<![CDATA[a]]]]><![CDATA[>b]]>"
    assert cdata("bell\x07") == "<![CDATA[bell]]>"
    xml = text_reply_xml(OPENID, ACCOUNT, "x]]>y", 12345678)
    assert reply_fields(xml) == {
        "ToUserName": OPENID,
        "FromUserName": ACCOUNT,
        "CreateTime": "12345678",
        "MsgType": "text",
        "Content": "x]]>y",
    }
    assert declares_dtd(b"<!DOCTYPE x><xml/>")
    assert declares_dtd(b"<xml><![CDATA[ok]]></xml><!ENTITY a 'b'>")
    assert not declares_dtd(b"<xml><a><![CDATA[<!DOCTYPE x>]]></a></xml>")
    # Linear even for a body full of unterminated CDATA openers.
    assert not declares_dtd(b"<xml>" + b"<![CDATA[" * 20000)
