"""WeChat safe mode (安全模式) and compatible mode (兼容模式) over real loopback HTTP.

The AES side of WeChat is written with the ``cryptography`` package
(tests/tencent_crypto.py) from the rules in shared/protocols.md §1.5
(AES-256-CBC, IV = key[:16], PKCS#7 with block 32, random(16) + msg_len + msg +
appid) and checked against the published vectors first, so the channel's
answers are judged by an independent implementation, never by its own encoder.
"""

from __future__ import annotations

import time

from tests.tencent_crypto import decrypt as wx_decrypt
from tests.tencent_crypto import encrypt as wx_encrypt
from tests.wechat_channel.tools import (
    ACCOUNT,
    AES_KEY,
    APPID,
    HELP_HEAD,
    NO_SKEW,
    OPENID,
    PLAIN_HINT,
    TOKEN,
    VECTORS,
    WechatPush,
    event_xml,
    fresh_query,
    rejected,
    reply_fields,
    sha1_signature,
    spy_inbounds,
    start,
    text_xml,
)


def encrypted_request(
    body_xml: str,
    *,
    token: str = TOKEN,
    key: str = AES_KEY,
    appid: str = APPID,
    ts: int | None = None,
    to_user: str = ACCOUNT,
) -> tuple[dict[str, str], str, str]:
    """(query, body, Encrypt) as WeChat sends a safe-mode push."""
    encrypt = wx_encrypt(key, appid, body_xml.encode("utf-8"))
    query = fresh_query(token, ts=ts)
    query |= {
        "encrypt_type": "aes",
        "msg_signature": sha1_signature(token, query["timestamp"], query["nonce"], encrypt),
    }
    body = (
        f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    return query, body, encrypt


def open_envelope(raw: str, query: dict[str, str], *, token=TOKEN, key=AES_KEY, appid=APPID):
    """Check the reply envelope (§1.5) and return the decrypted reply's fields."""
    env = reply_fields(raw)
    assert set(env) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert env["Nonce"] == query["nonce"]
    assert abs(int(env["TimeStamp"]) - time.time()) < 60
    expected = sha1_signature(token, env["TimeStamp"], env["Nonce"], env["Encrypt"])
    assert env["MsgSignature"] == expected
    _, msg, got_appid = wx_decrypt(key, env["Encrypt"])
    assert got_appid == appid
    return reply_fields(msg.decode("utf-8"))


# -- the test-side cipher reproduces the published vectors -------------------------------


def test_reference_cipher_reproduces_official_vectors():
    v = VECTORS["wechat_official_push_doc"]
    post, reply = v["safe_post"], v["safe_reply"]
    rnd, msg, appid = wx_decrypt(v["encoding_aes_key"], post["encrypt"])
    assert (rnd.decode(), msg.decode(), appid) == (post["random"], post["msg"], v["appid"])
    assert len(msg) == post["msg_len"]
    assert post["msg_signature"] == sha1_signature(
        v["token"], post["timestamp"], post["nonce"], post["encrypt"]
    )
    encrypt = wx_encrypt(
        v["encoding_aes_key"], v["appid"], reply["msg"].encode(), reply["random"].encode()
    )
    assert encrypt == reply["encrypt"]
    assert (
        sha1_signature(v["token"], reply["timestamp"], reply["nonce"], encrypt)
        == reply["msg_signature"]
    )


def test_reference_cipher_decrypts_tencent_mp_sample():
    v = VECTORS["wechat_tencent_mp_sample"]
    encrypt = v["from_xml"].split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    assert sha1_signature(v["token"], v["timestamp"], v["nonce"], encrypt) == v["msg_signature"]
    _, msg, appid = wx_decrypt(v["encoding_aes_key"], encrypt)
    assert appid == v["appid"]
    for part in v["expected_msg_contains"]:
        assert part in msg.decode()


# -- the channel -----------------------------------------------------------------------


async def test_tencent_mp_sample_in_compat_mode(aiohttp_client, db_url):
    """The WXBizMsgCrypt sample verbatim: published msg_signature, compat body, old timestamp."""
    v = VECTORS["wechat_tencent_mp_sample"]
    client = await start(
        aiohttp_client,
        db_url,
        token=v["token"],
        encoding_aes_key=v["encoding_aes_key"],
        appid=v["appid"],
        mode="compat",
        max_clock_skew_seconds=NO_SKEW,
    )
    seen = spy_inbounds(client)
    query = {
        "signature": sha1_signature(v["token"], v["timestamp"], v["nonce"]),
        "timestamp": v["timestamp"],
        "nonce": v["nonce"],
        "encrypt_type": "aes",
        "msg_signature": v["msg_signature"],
    }
    resp = await WechatPush(client, v["token"]).post(v["from_xml"], query)
    raw = await resp.text()
    assert resp.status == 200, raw
    [inbound] = seen
    assert (inbound.user_id, inbound.text, inbound.event_id) == (
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
        "abcdteT",
        "6054768590064713728",
    )
    reply = open_envelope(raw, query, token=v["token"], key=v["encoding_aes_key"], appid=v["appid"])
    assert reply["Content"] == PLAIN_HINT
    assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert reply["FromUserName"] == "gh_10f6c3c3ac5a"

    # One changed character in the published msg_signature: refused.
    bad = query | {"msg_signature": "4" + v["msg_signature"][1:]}
    assert (await WechatPush(client, v["token"]).post(v["from_xml"], bad)).status == 403


async def test_official_doc_vector_is_authenticated_and_appid_checked(aiohttp_client, db_url):
    """The doc's safe-mode example (JSON data format) passes msg_signature and the appid
    check; its plaintext is JSON, which an Official Account XML endpoint refuses as 400."""
    v = VECTORS["wechat_official_push_doc"]
    post = v["safe_post"]
    query = {k: post[k] for k in ("signature", "timestamp", "nonce", "openid", "encrypt_type")}
    query["msg_signature"] = post["msg_signature"]
    body = (
        f"<xml><ToUserName><![CDATA[{post['to_user_name']}]]></ToUserName>"
        f"<Encrypt><![CDATA[{post['encrypt']}]]></Encrypt></xml>"
    )
    common = dict(
        token=v["token"],
        encoding_aes_key=v["encoding_aes_key"],
        mode="safe",
        max_clock_skew_seconds=NO_SKEW,
    )
    client = await start(aiohttp_client, db_url, appid=v["appid"], **common)
    resp = await WechatPush(client, v["token"]).post(body, query)
    assert resp.status == 400
    assert await rejected(client, "bad_xml") == 1
    assert await rejected(client, "bad_signature") == 0
    await client.close()

    other = await start(aiohttp_client, db_url, appid="wx0000000000000000", **common)
    resp = await WechatPush(other, v["token"]).post(body, query)
    assert resp.status == 403
    assert await rejected(other, "wrong_appid") == 1


async def safe_client(aiohttp_client, db_url, **more):
    return await start(
        aiohttp_client, db_url, encoding_aes_key=AES_KEY, appid=APPID, mode="safe", **more
    )


async def test_safe_mode_round_trip(aiohttp_client, db_url):
    client = await safe_client(aiohttp_client, db_url)
    seen = spy_inbounds(client)
    wechat = WechatPush(client)
    query, body, _ = encrypted_request(text_xml("/帮助", 7001))
    resp = await wechat.post(body, query)
    raw = await resp.text()
    assert resp.status == 200, raw
    assert seen[0].text == "/帮助" and seen[0].event_id == "7001"
    reply = open_envelope(raw, query)
    assert reply["Content"].startswith(HELP_HEAD)
    assert (reply["ToUserName"], reply["FromUserName"], reply["MsgType"]) == (
        OPENID,
        ACCOUNT,
        "text",
    )

    # Subscribe in safe mode: the welcome, encrypted.
    query, body, _ = encrypted_request(
        event_xml("subscribe", EventKey="qrscene_42", create_time=int(time.time()) - 10)
    )
    raw = await (await wechat.post(body, query)).text()
    assert open_envelope(raw, query)["Content"].startswith("欢迎关注连心")
    assert seen[-1].extra["scene"] == "42"

    # No reply: "success", never encrypted (§1.3).
    query, body, _ = encrypted_request(event_xml("unsubscribe"))
    resp = await wechat.post(body, query)
    assert (resp.status, await resp.text()) == (200, "success")

    # Emoji and a "]]>" survive encryption.
    query, body, _ = encrypted_request(text_xml("/🎉]]>", 7002))
    raw = await (await wechat.post(body, query)).text()
    assert open_envelope(raw, query)["Content"].startswith("没有“/🎉]]>”这个命令。")


async def test_safe_mode_refusals(aiohttp_client, db_url):
    client = await safe_client(aiohttp_client, db_url)
    seen = spy_inbounds(client)
    wechat = WechatPush(client)
    inner = text_xml("/帮助", 7100)

    # Plain request in safe mode.
    assert (await wechat.post(inner)).status == 403
    assert await rejected(client, "plain_refused") == 1

    query, body, encrypt = encrypted_request(inner)
    # msg_signature missing / wrong / computed over a different Encrypt.
    no_sig = {k: v for k, v in query.items() if k != "msg_signature"}
    assert (await wechat.post(body, no_sig)).status == 403
    assert (await wechat.post(body, query | {"msg_signature": "f" * 40})).status == 403
    other = wx_encrypt(AES_KEY, APPID, inner.encode())
    assert (await wechat.post(body.replace(encrypt, other), query)).status == 403
    # The plain `signature` alone does not authenticate an encrypted body.
    assert (await wechat.post(body, query | {"msg_signature": query["signature"]})).status == 403
    assert await rejected(client, "missing_signature") == 1
    assert await rejected(client, "bad_signature") == 3

    # Stale timestamp, correctly signed.
    query_old, body_old, _ = encrypted_request(inner, ts=int(time.time()) - 3600)
    assert (await wechat.post(body_old, query_old)).status == 403
    assert await rejected(client, "stale_timestamp") == 1

    # Encrypted for another appid.
    q, b, _ = encrypted_request(inner, appid="wx0000000000000000")
    assert (await wechat.post(b, q)).status == 403
    assert await rejected(client, "wrong_appid") == 1

    # Signed garbage that does not decrypt; no <Encrypt>; DOCTYPE inside the ciphertext.
    for junk in ("bm90IGEgY2lwaGVydGV4dA==", "%%%not-base64%%%"):
        q = fresh_query()
        q |= {
            "encrypt_type": "aes",
            "msg_signature": sha1_signature(TOKEN, q["timestamp"], q["nonce"], junk),
        }
        resp = await wechat.post(f"<xml><Encrypt><![CDATA[{junk}]]></Encrypt></xml>", q)
        assert resp.status == 400
    assert await rejected(client, "bad_encrypt") == 2
    q = fresh_query() | {"encrypt_type": "aes", "msg_signature": "0" * 40}
    assert (await wechat.post("<xml><ToUserName>gh</ToUserName></xml>", q)).status == 400
    assert await rejected(client, "missing_encrypt") == 1
    evil = '<!DOCTYPE xml [<!ENTITY x "boom">]>' + inner.replace("/帮助", "&x;")
    q, b, _ = encrypted_request(evil.replace("<![CDATA[&x;]]>", "&x;"))
    assert (await wechat.post(b, q)).status == 400
    assert await rejected(client, "dtd_forbidden") == 1

    assert seen == []
    # URL verification (GET) is plain in every mode.
    resp = await client.get("/wechat", params=fresh_query() | {"echostr": "123"})
    assert (resp.status, await resp.text()) == (200, "123")


async def test_compat_mode_takes_both(aiohttp_client, db_url):
    client = await start(
        aiohttp_client, db_url, encoding_aes_key=AES_KEY, appid=APPID, mode="compat"
    )
    wechat = WechatPush(client)
    # Plain request: plain reply.
    assert (await wechat.say("/帮助")).startswith(HELP_HEAD)
    # Compat body: plaintext fields AND <Encrypt>. The decrypted copy is the one used.
    inner = text_xml("/帮助", 7201)
    query, _, encrypt = encrypted_request(inner)
    decoy = text_xml("something else", 7201)
    body = decoy.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    raw = await (await wechat.post(body, query)).text()
    assert open_envelope(raw, query)["Content"].startswith(HELP_HEAD)


async def test_plain_mode_with_key_decrypts(aiohttp_client, db_url):
    """Plain mode refuses only what it cannot decrypt: with a key configured it decrypts."""
    client = await start(
        aiohttp_client, db_url, encoding_aes_key=AES_KEY, appid=APPID, mode="plain"
    )
    query, body, _ = encrypted_request(text_xml("/帮助", 7301))
    raw = await (await WechatPush(client).post(body, query)).text()
    assert open_envelope(raw, query)["Content"].startswith(HELP_HEAD)
