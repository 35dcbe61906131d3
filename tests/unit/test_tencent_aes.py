"""bot/channels/tencent_aes.py against wechatpy's WeChatCrypto, both ways (no database)."""

from __future__ import annotations

import re

import pytest
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from bot.channels.tencent_aes import AesEnvelope

TOKEN, KEY, APPID = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx2c2769f8efd9abc2"
TS, NONCE = "1409304348", "xxxxxx"


def _encrypt_of(envelope_xml: str) -> str:
    found = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", envelope_xml)
    assert found
    return found.group(1)


# 0..40 extra bytes: every padding length, including a whole block when already aligned.
@pytest.mark.parametrize("extra", range(41))
def test_wechatpy_reads_ours_and_we_read_wechatpy(extra: int) -> None:
    ours, theirs = AesEnvelope(TOKEN, KEY, APPID), WeChatCrypto(TOKEN, KEY, APPID)
    msg = "<xml><Content><![CDATA[连心" + "x" * extra + "]]></Content></xml>"
    sent = ours.encrypt_message(msg, NONCE, TS)
    signature = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", sent)
    assert signature and f"<TimeStamp>{TS}</TimeStamp>" in sent
    assert theirs.decrypt_message(sent, signature.group(1), TS, NONCE) == msg

    back = theirs.encrypt_message(msg, NONCE, TS)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", back)
    assert sig
    assert ours.decrypt_message({"Encrypt": _encrypt_of(back)}, sig.group(1), TS, NONCE) == msg


def test_refusals_are_wechatpys() -> None:
    other = WeChatCrypto(TOKEN, KEY, "wx0000000000000000").encrypt_message("<xml/>", NONCE, TS)
    ours = AesEnvelope(TOKEN, KEY, APPID)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", other)
    assert sig
    with pytest.raises(InvalidAppIdException):
        ours.decrypt_message({"Encrypt": _encrypt_of(other)}, sig.group(1), TS, NONCE)
    with pytest.raises(InvalidSignatureException):
        ours.decrypt_message({"Encrypt": _encrypt_of(other)}, "0" * 40, TS, NONCE)
    with pytest.raises(ValueError):  # 16 bytes that are no envelope
        ours.decrypt("bm90IGEgY2lwaGVydGV4dA==")
