"""The benchmark's request builders against wechatpy (bench/refservers.py), in-process."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from bench import payloads as p
from bench.refservers import bare_app, wechatpy_app

VECTORS = json.loads((Path(__file__).parent / "samples" / "published_vectors.json").read_text())


def test_aes_decrypt_reads_the_tencent_sample() -> None:
    v = VECTORS["wechat_tencent_mp_sample"]
    assert (v["token"], v["encoding_aes_key"], v["appid"]) == (
        p.WECHAT_TOKEN,
        p.WECHAT_AES_KEY,
        p.WECHAT_APPID,
    )
    encrypt = v["from_xml"].split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    assert p.wechat_sign(v["token"], v["timestamp"], v["nonce"], encrypt) == v["msg_signature"]
    plain = p.aes_decrypt(encrypt).decode()
    assert all(part in plain for part in v["expected_msg_contains"])
    assert p.aes_decrypt(p.aes_encrypt(b"<xml/>")) == b"<xml/>"


@pytest.mark.parametrize("safe", [False, True])
async def test_wechatpy_accepts_the_signed_requests(aiohttp_client, safe: bool) -> None:
    client = await aiohttp_client(wechatpy_app())
    for seq in (1, 2):  # /帮助 and /我
        req = p.wechat_request(seq, safe=safe)
        resp = await client.post(req.path, data=req.body, headers=req.headers)
        body = await resp.read()
        assert p.check_wechat_reply(req, resp.status, body, safe=safe) is None, body
    tampered = p.wechat_request(3, safe=safe)
    resp = await client.post(tampered.path.replace("signature=", "signature=0"), data=tampered.body)
    assert resp.status == 403
    assert p.check_wechat_reply(tampered, resp.status, await resp.read(), safe=safe)


async def test_onebot_request_is_signed_and_replies_are_checked(aiohttp_client) -> None:
    req = p.onebot_request(7)
    event = json.loads(req.body)
    assert event["message_id"] == 7 and event["message"] == req.command == "/我"
    digest = hmac.new(p.ONEBOT_SECRET.encode(), req.body, hashlib.sha1).hexdigest()
    assert req.headers["X-Signature"] == f"sha1={digest}"
    client = await aiohttp_client(bare_app())
    resp = await client.post(req.path, data=req.body, headers=req.headers)
    assert p.check_bare_reply(req, resp.status, await resp.read()) is None
    ok = json.dumps({"reply": f"您好\n平台身份：onebot:{req.user}"}).encode()
    assert p.check_onebot_reply(req, 200, ok) is None
    assert p.check_onebot_reply(req, 200, b'{"reply": "x"}') is not None
