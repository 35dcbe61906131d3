"""WeChat plain mode refusals: signatures and replay, malformed, DTD-laden and oversize bodies."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

from bot.app import RUNTIME
from tests.tencent_crypto import sha1_signature
from tests.wechat_channel.tools import (
    HELP_HEAD,
    WechatPush,
    fresh_query,
    metric,
    rejected,
    spy_inbounds,
    start,
    text_xml,
)

# -- refusals ---------------------------------------------------------------------------


async def test_signature_and_replay_refusals(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    body = text_xml("/帮助", wechat.msg_id())
    good = fresh_query()

    wrong = good | {"signature": sha1_signature("wrong", good["timestamp"], good["nonce"])}
    assert (await wechat.post(body, wrong)).status == 403
    # The signature covers the nonce: changing it breaks the signature.
    assert (await wechat.post(body, good | {"nonce": good["nonce"] + "1"})).status == 403
    no_sig = {k: v for k, v in good.items() if k != "signature"}
    assert (await wechat.post(body, no_sig)).status == 403
    assert (await wechat.post(body, {})).status == 400
    assert (await wechat.post(body, {"signature": good["signature"]})).status == 400
    stale = fresh_query(ts=int(time.time()) - 301 - 5)
    assert (await wechat.post(body, stale)).status == 403
    future = fresh_query(ts=int(time.time()) + 3600)
    assert (await wechat.post(body, future)).status == 403
    # An encrypted request in plain mode with no EncodingAESKey configured.
    aes = good | {"encrypt_type": "aes", "msg_signature": "0" * 40}
    assert (await wechat.post(body, aes)).status == 400
    assert await rejected(client, "bad_signature") == 2
    assert await rejected(client, "missing_signature") == 1
    assert await rejected(client, "missing_params") == 2
    assert await rejected(client, "stale_timestamp") == 2
    assert await rejected(client, "no_aes_key") == 1
    # None of them reached the dispatcher.
    assert await metric(client, "lianxin_events_total", platform="wechat") == 0
    # Within the allowed skew it is accepted.
    ok = fresh_query(ts=int(time.time()) - 200)
    assert (await wechat.exchange(body, ok)).startswith(HELP_HEAD)


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"", "empty_body"),
        (b"not xml at all", "bad_xml"),
        (b"<xml><MsgType>text</MsgType>", "bad_xml"),
        (b"<notxml><MsgType>text</MsgType><FromUserName>o</FromUserName></notxml>", "bad_xml"),
        ("<xml><MsgType>text</MsgType></xml>".encode("utf-16"), "bad_encoding"),
        (b"<xml><FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>", "missing_fields"),
        (b"<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>", "missing_fields"),
        (
            b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName>"
            b"<CreateTime>yesterday</CreateTime></xml>",
            "bad_create_time",
        ),
        (
            b"<xml><MsgType>text</MsgType><MsgType>image</MsgType>"
            b"<FromUserName>o</FromUserName><CreateTime>1</CreateTime></xml>",
            "bad_xml",
        ),
    ],
    ids=[
        "empty",
        "garbage",
        "unclosed",
        "wrong-root",
        "utf16",
        "no-msgtype",
        "no-from",
        "bad-createtime",
        "repeated-field",
    ],
)
async def test_malformed_bodies_400(aiohttp_client, db_url, body, reason):
    client = await start(aiohttp_client, db_url)
    resp = await WechatPush(client).post(body)
    assert resp.status == 400, await resp.text()
    assert await rejected(client, reason) == 1


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE xml [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
    + "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
    + "<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"
)


async def test_dtd_and_entities_refused_before_parsing(aiohttp_client, aiohttp_server, db_url):
    hits: list[str] = []

    async def record(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text='<!ENTITY leak "x">')

    evil = web.Application()
    evil.router.add_get("/{tail:.*}", record)
    server = await aiohttp_server(evil)
    url = str(server.make_url("/evil.dtd"))

    client = await start(aiohttp_client, db_url)
    seen = spy_inbounds(client)
    wechat = WechatPush(client)
    msg = text_xml("&x;", 1, account="gh").replace("<![CDATA[&x;]]>", "&x;")
    bodies = [
        BILLION_LAUGHS,
        f'<!DOCTYPE xml [<!ENTITY x SYSTEM "{url}">]>{msg}',
        f'<!DOCTYPE xml [<!ENTITY % p SYSTEM "{url}"> %p;]>{msg}',
        f'<!DOCTYPE xml SYSTEM "{url}">{msg.replace("&x;", "hi")}',
        f'<!DOCTYPE xml [<!ENTITY x "expanded">]>{msg}',
        f'<?xml version="1.0"?>\n  <!doctype xml [<!ENTITY x "expanded">]>{msg}',
    ]
    for body in bodies:
        started = time.perf_counter()
        resp = await wechat.post(body)
        assert resp.status == 400, body
        assert time.perf_counter() - started < 1.0
    assert await rejected(client, "dtd_forbidden") == len(bodies)
    await asyncio.sleep(0.1)
    assert hits == []  # nothing fetched
    assert seen == []  # nothing dispatched


async def test_oversize_body_413(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    body = text_xml("字" * 30000, wechat.msg_id())  # ~90 KB > server.max_body_bytes (64 KiB)
    resp = await wechat.post(body)
    assert resp.status == 413
    assert await rejected(client, "too_large") == 1
    # The server is fine afterwards.
    assert (await wechat.say("/帮助")).startswith(HELP_HEAD)


async def test_unexpected_failure_answers_success(aiohttp_client, db_url, caplog):
    client = await start(aiohttp_client, db_url)
    rt = client.server.app[RUNTIME]

    async def explode(inbound):
        raise RuntimeError("boom")

    rt.dispatcher.handle = explode
    resp = await WechatPush(client).post(text_xml("/帮助", 42))
    assert (resp.status, await resp.text()) == (200, "success")
    assert (
        await metric(
            client, "lianxin_events_total", platform="wechat", command="-", outcome="channel_error"
        )
        == 1
    )
    assert "unexpected failure" in caplog.text
