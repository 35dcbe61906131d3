"""QQ channel: op 13 callback validation, Ed25519 signatures, appid and malformed requests."""

from __future__ import annotations

import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bot.channels.qq import seed_from_secret, verify_signature
from models.events import InboundEvent
from tests.qq_channel.tools import (
    ACK,
    DEMO,
    SECRET,
    VALIDATION,
    compact,
    platform_key,
    start_bot,
)

# -- op 13: callback URL validation --------------------------------------------


async def test_validation_official_vector(aiohttp_client, db_url, fake):
    bot = await start_bot(
        aiohttp_client,
        db_url,
        fake,
        appid=VALIDATION["bot"]["appid"],
        secret=VALIDATION["bot"]["secret"],
    )
    req = VALIDATION["request"]

    # As the docs show it: no signature headers.
    resp = await bot.client.post("/qq", data=req["body"].encode(), headers=req["headers"])
    assert resp.status == 200
    assert await resp.json() == VALIDATION["expected_response"]
    assert VALIDATION["expected_response"]["signature"].endswith("c706")

    # Signed (as botgo expects it to be): the same answer.
    signed = await bot.post(body=req["body"].encode())
    assert signed.status == 200
    assert await signed.json() == VALIDATION["expected_response"]


async def test_validation_signature_is_deterministic_ed25519(qq):
    body = {"d": {"plain_token": "Arq0D5A61EgUu4OxUvOp", "event_ts": "1725442341"}, "op": 13}
    resp = await qq.post(body, sign=False)
    answer = await resp.json()
    # Verifiable with the public key that belongs to our secret.
    qq.key.public_key().verify(
        bytes.fromhex(answer["signature"]), b"1725442341Arq0D5A61EgUu4OxUvOp"
    )


async def test_unsigned_validation_cannot_sign_a_dispatch(qq):
    """Otherwise op 13 would sign timestamp + {json body} for anyone who asks."""
    forged = compact(qq.c2c("/改称呼"))
    body = {"d": {"plain_token": forged.decode(), "event_ts": "1725442341"}, "op": 13}
    resp = await qq.post(body, sign=False)
    assert resp.status == 400
    body = {"d": {"plain_token": "abc", "event_ts": "1725442341{"}, "op": 13}
    assert (await qq.post(body, sign=False)).status == 400


async def test_validation_needs_our_appid(qq):
    body = {"d": {"plain_token": "abc", "event_ts": "1725442341"}, "op": 13}
    assert (await qq.post(body, sign=False, appid="999")).status == 403
    assert (await qq.post(body, sign=False, appid="")).status == 403


# -- signatures ------------------------------------------------------------------


def test_seed_and_public_key_of_the_sign_md_demo():
    assert seed_from_secret(DEMO["secret"]) == DEMO["seed"].encode()
    assert seed_from_secret(SECRET) == (SECRET * 2).encode()[:32]
    public = platform_key(DEMO["secret"]).public_key()
    assert list(public.public_bytes(Encoding.Raw, PublicFormat.Raw)) == DEMO["public_key"]


def test_sign_md_demo_verifies_over_the_pretty_printed_body_only():
    public = Ed25519PublicKey.from_public_bytes(bytes(DEMO["public_key"]))
    pretty = DEMO["body_that_actually_verifies"].encode()
    printed = DEMO["body_as_printed_in_doc"].encode()
    assert pretty == json.dumps(json.loads(printed), indent=2).encode()
    assert verify_signature(public, DEMO["timestamp"], pretty, DEMO["signature"])
    assert not verify_signature(public, DEMO["timestamp"], printed, DEMO["signature"])
    assert not verify_signature(
        public, DEMO["timestamp"], compact(json.loads(printed)), DEMO["signature"]
    )


async def test_sign_md_demo_over_http(aiohttp_client, db_url, fake):
    bot = await start_bot(aiohttp_client, db_url, fake, secret=DEMO["secret"])
    bot.channel.clock = lambda: float(DEMO["timestamp"])
    headers = {
        "X-Signature-Ed25519": DEMO["signature"],
        "X-Signature-Timestamp": DEMO["timestamp"],
    }
    pretty = DEMO["body_that_actually_verifies"].encode()
    resp = await bot.post(body=pretty, sign=False, headers=headers)
    assert resp.status == 200
    assert await resp.json() == ACK  # an event we do not handle: acknowledged

    printed = DEMO["body_as_printed_in_doc"].encode()
    assert (await bot.post(body=printed, sign=False, headers=headers)).status == 401


async def test_missing_signature_is_401(qq, fake):
    resp = await qq.post(qq.c2c("/我"), sign=False)
    assert resp.status == 401
    # Half the headers is still missing.
    raw = compact(qq.c2c("/我"))
    only_sig = {"X-Signature-Ed25519": qq.signed_headers(raw)["X-Signature-Ed25519"]}
    assert (await qq.post(body=raw, sign=False, headers=only_sig)).status == 401
    assert (await qq.post(body=b"not json", sign=False)).status == 401
    await qq.channel.wait_idle(5)
    assert fake.requests == []
    assert await InboundEvent.all().count() == 0


async def test_bad_signatures_are_401(qq, fake):
    raw = compact(qq.c2c("/我"))
    good = qq.signed_headers(raw)
    sig = bytes.fromhex(good["X-Signature-Ed25519"])

    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    high_bits = sig[:63] + bytes([sig[63] | 0xE0])  # sig[63] & 224 must be 0
    cases = [
        flipped.hex(),
        high_bits.hex(),
        sig[:32].hex(),  # not 64 bytes
        "zz" * 64,  # not hex
        platform_key("another-secret").sign(good["X-Signature-Timestamp"].encode() + raw).hex(),
    ]
    for bad in cases:
        resp = await qq.post(body=raw, sign=False, headers={**good, "X-Signature-Ed25519": bad})
        assert resp.status == 401, bad
    # A valid signature over other bytes (the body was changed in transit).
    tampered = raw.replace(b"/\xe6\x88\x91", b"/x")
    assert (await qq.post(body=tampered, sign=False, headers=good)).status == 401
    # Signed for another timestamp.
    other_ts = {**good, "X-Signature-Timestamp": str(int(good["X-Signature-Timestamp"]) + 1)}
    assert (await qq.post(body=raw, sign=False, headers=other_ts)).status == 401

    await qq.channel.wait_idle(5)
    assert fake.requests == []


async def test_replayed_request_with_an_old_timestamp_is_401(qq, fake):
    now = int(time.time())
    qq.channel.clock = lambda: now  # a second ticking by would make now + 301 within 300
    old = str(now - 301)
    assert (await qq.post(qq.c2c("/我"), timestamp=old)).status == 401
    assert (await qq.post(qq.c2c("/我"), timestamp=str(now + 301))).status == 401
    assert (await qq.post(qq.c2c("/我"), timestamp="soon")).status == 401
    # The window is the channel's setting.
    qq.channel.max_skew = 600
    assert (await qq.post(qq.c2c("/我"), timestamp=old)).status == 200
    await qq.channel.wait_idle(5)
    assert len(fake.delivered) == 1


async def test_wrong_or_missing_appid_is_403(qq, fake):
    assert (await qq.post(qq.c2c("/我"), appid="999")).status == 403
    assert (await qq.post(qq.c2c("/我"), appid="")).status == 403
    await qq.channel.wait_idle(5)
    assert fake.requests == []


async def test_malformed_json_is_400(qq):
    for raw in (b"{not json", b"[1, 2]", b"\xff\xfe", b""):
        assert (await qq.post(body=raw)).status == 400, raw


async def test_message_without_ids_is_400(qq):
    p = qq.c2c("/我")
    del p["d"]["author"]["user_openid"]
    assert (await qq.post(p)).status == 400
    p = qq.group_at(" /我")
    del p["d"]["id"]
    assert (await qq.post(p)).status == 400
