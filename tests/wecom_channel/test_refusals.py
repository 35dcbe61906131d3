"""WeCom callback refusals (POST /wecom): bad signatures and bodies, failures, bad config."""

from __future__ import annotations

import base64
import time

import pytest

from bot.inbound import Inbound
from tests.conftest import make_config
from tests.tencent_crypto import encrypt
from tests.tencent_crypto import sha1_signature as sha1_sig
from tests.wecom_channel.tools import message_xml


async def test_bad_signature_is_403(client, wecom, seen):
    xml = message_xml("zhangsan", wecom.corp, content="/帮助", msg_id="1")
    resp = await wecom.post_message(xml, signature="0" * 40)
    assert resp.status == 403
    resp = await wecom.post_message(xml, signature="")
    assert resp.status == 403
    # Signed for another nonce than the one in the query.
    enc = encrypt(wecom.key, wecom.corp, xml.encode())
    ts = str(int(time.time()))
    resp = await wecom.post_encrypted(
        enc, timestamp=ts, nonce="2", signature=sha1_sig(wecom.token, ts, "1", enc)
    )
    assert resp.status == 403
    assert seen == []


async def test_replayed_timestamp_is_403(wecom, seen):
    xml = message_xml("zhangsan", wecom.corp, content="/帮助", msg_id="2")
    for offset in (-301, 301, -3600):
        resp = await wecom.post_message(xml, timestamp=str(int(time.time()) + offset))
        assert resp.status == 403, offset
    resp = await wecom.post_message(xml, timestamp=str(int(time.time()) - 250))
    assert resp.status == 200
    assert len(seen) == 1


async def test_message_for_another_corp_is_403(wecom, seen):
    xml = message_xml("zhangsan", "wwSomeoneElse", content="/帮助", msg_id="3")
    enc = encrypt(wecom.key, "wwSomeoneElse", xml.encode())
    resp = await wecom.post_encrypted(enc)
    assert resp.status == 403
    assert seen == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<xml><ToUserName>x</ToUserName><Encrypt>abc",
        b"<root><Encrypt>abc</Encrypt></root>",
        b"<xml><ToUserName>x</ToUserName></xml>",
        b"\xff\xfe<xml/>",
    ],
)
async def test_malformed_body_is_400(client, wecom, body, seen):
    ts, nonce = str(int(time.time())), "1"
    params = {
        "msg_signature": sha1_sig(wecom.token, ts, nonce, ""),
        "timestamp": ts,
        "nonce": nonce,
    }
    resp = await client.post("/wecom", params=params, data=body)
    assert resp.status == 400
    assert seen == []


async def test_doctype_is_refused_before_parsing(client, wecom, seen):
    enc = encrypt(wecom.key, wecom.corp, b"<xml/>")
    ts, nonce = str(int(time.time())), "1"
    params = {
        "msg_signature": sha1_sig(wecom.token, ts, nonce, enc),
        "timestamp": ts,
        "nonce": nonce,
    }
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        f"<xml><ToUserName>&b;</ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    )
    resp = await client.post("/wecom", params=params, data=bomb.encode())
    assert resp.status == 400
    external = (
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd">'
        f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    )
    resp = await client.post("/wecom", params=params, data=external.encode())
    assert resp.status == 400
    # The same inside the encrypted message.
    inner = '<!DOCTYPE xml [<!ENTITY x "y">]>' + message_xml("u", wecom.corp, content="&x;")
    resp = await wecom.post_message(inner)
    assert resp.status == 400
    assert seen == []


async def test_undecryptable_or_incomplete_message_is_400(wecom, seen):
    assert (await wecom.post_encrypted("not-base64-at-all!!")).status == 400
    assert (await wecom.post_encrypted(base64.b64encode(b"x" * 20).decode())).status == 400
    missing_user = "<xml><MsgType>text</MsgType><Content>hi</Content></xml>"
    assert (await wecom.post_message(missing_user)).status == 400
    bad_time = message_xml("u", wecom.corp, content="hi").replace(
        f"<CreateTime>{int(time.time())}</CreateTime>", "<CreateTime>soon</CreateTime>"
    )
    assert "soon" in bad_time
    assert (await wecom.post_message(bad_time)).status == 400
    assert (await wecom.post_message("<xml><unclosed></xml>")).status == 400
    assert seen == []


async def test_missing_query_params_are_400(client, wecom):
    xml = message_xml("zhangsan", wecom.corp, content="hi", msg_id="4")
    enc = encrypt(wecom.key, wecom.corp, xml.encode())
    body = f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>".encode()
    ts = str(int(time.time()))
    sig = sha1_sig(wecom.token, ts, "1", enc)
    assert (
        await client.post("/wecom", params={"msg_signature": sig, "nonce": "1"}, data=body)
    ).status == 400
    assert (
        await client.post("/wecom", params={"msg_signature": sig, "timestamp": ts}, data=body)
    ).status == 400
    bad_ts = {"msg_signature": sig, "timestamp": "x", "nonce": "1"}
    assert (await client.post("/wecom", params=bad_ts, data=body)).status == 400


async def test_unexpected_failure_is_an_empty_200(channel, wecom, monkeypatch):
    def broken(text: str, fields: dict[str, str]) -> Inbound:
        raise RuntimeError("boom")

    monkeypatch.setattr(channel, "_to_inbound", broken)
    resp = await wecom.post_message(message_xml("zhangsan", wecom.corp, content="hi", msg_id="9"))
    assert resp.status == 200
    assert await resp.read() == b""


async def test_metrics_count_rejections(client, wecom):
    xml = message_xml("zhangsan", wecom.corp, content="hi", msg_id="10")
    await wecom.post_message(xml, signature="0" * 40)
    metrics = (await (await client.get("/metrics")).read()).decode()
    assert 'platform="wecom"' in metrics and "bad_signature" in metrics


def test_invalid_aes_key_fails_at_startup(db_url):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=r"wecom\.encoding_aes_key"):
        make_config(
            db_url,
            wecom={
                "enabled": True,
                "corp_id": "wwx",
                "agent_id": 1,
                "secret": "s",
                "token": "t",
                "encoding_aes_key": "!" * 43,  # 43 characters, but not base64
            },
        )
