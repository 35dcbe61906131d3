"""WeCom callback URL verification (GET /wecom): published vectors, fresh requests, refusals."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from yarl import URL

from tests.tencent_crypto import encrypt
from tests.tencent_crypto import sha1_signature as sha1_sig
from tests.wecom_channel.tools import DOC, TENCENT, TENCENT_CREDS


async def test_url_verification_tencent_vector(client, channel):
    v = DOC["verify_url"]
    channel.clock = lambda: int(v["timestamp"]) + 5  # the vector is from 2014
    query = (
        f"msg_signature={v['msg_signature']}&timestamp={v['timestamp']}"
        f"&nonce={v['nonce']}&echostr={v['echostr_urlencoded']}"
    )
    resp = await client.get(URL(f"/wecom?{query}", encoded=True))
    assert resp.status == 200
    assert await resp.read() == b"1616140317555161061"  # no quotes, BOM or newline
    assert resp.content_type == "text/plain"


async def test_url_verification_unencoded_plus_is_restored(client, channel):
    # A "+" sent raw arrives as a space after URL-decoding; base64 never has one.
    v = DOC["verify_url"]
    channel.clock = lambda: int(v["timestamp"])
    query = (
        f"msg_signature={v['msg_signature']}&timestamp={v['timestamp']}"
        f"&nonce={v['nonce']}&echostr={v['echostr']}"
    )
    assert "+" in v["echostr"]
    resp = await client.get(URL(f"/wecom?{query}", encoded=True))
    assert (resp.status, await resp.read()) == (200, b"1616140317555161061")


@pytest.mark.parametrize("creds", [TENCENT_CREDS], indirect=True)
async def test_url_verification_sbzhu_vector(client, channel):
    v = TENCENT["verify_url"]
    channel.clock = lambda: int(v["timestamp"]) - 100
    query = (
        f"msg_signature={v['msg_signature']}&timestamp={v['timestamp']}"
        f"&nonce={v['nonce']}&echostr={quote(v['echostr'], safe='')}"
    )
    resp = await client.get(URL(f"/wecom?{query}", encoded=True))
    assert (resp.status, await resp.read()) == (200, v["expected_response_body"].encode())


async def test_url_verification_fresh(client, wecom):
    ts, nonce = str(int(time.time())), "5550123"
    echostr = encrypt(wecom.key, wecom.corp, b"8317355806124562901")
    params = {
        "msg_signature": sha1_sig(wecom.token, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    resp = await client.get("/wecom", params=params)
    assert (resp.status, await resp.read()) == (200, b"8317355806124562901")


async def test_url_verification_refusals(client, channel, wecom):
    v = DOC["verify_url"]
    channel.clock = lambda: int(v["timestamp"])
    good = {k: v[k] for k in ("msg_signature", "timestamp", "nonce", "echostr")}

    async def status(**changes: Any) -> int:
        params = {k: val for k, val in {**good, **changes}.items() if val is not None}
        return (await client.get("/wecom", params=params)).status

    assert await status() == 200
    assert await status(msg_signature="0" * 40) == 403
    assert await status(msg_signature=None) == 403
    assert await status(nonce="263014781") == 403  # signed over another nonce
    assert await status(echostr=None) == 400
    assert await status(timestamp=None) == 400
    assert await status(nonce=None) == 400
    assert await status(timestamp="yesterday") == 400
    # Right signature, but the clock says the request is 10 minutes old.
    channel.clock = lambda: int(v["timestamp"]) + 600
    assert await status() == 403
    # Signed correctly but encrypted for another corp.
    ts, nonce = str(int(time.time())), "1"
    channel.clock = time.time
    other = encrypt(wecom.key, "wwSomeoneElse", b"123")
    assert (
        await status(
            msg_signature=sha1_sig(wecom.token, ts, nonce, other),
            timestamp=ts,
            nonce=nonce,
            echostr=other,
        )
        == 403
    )
