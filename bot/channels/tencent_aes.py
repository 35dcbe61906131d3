"""微信公众号安全模式的加密信封（protocols.md §1.5），密钥与 AES 只准备一次。

AES-256-CBC with the EncodingAESKey (IV = its first 16 bytes), PKCS#7 padding to 32-byte
blocks, over ``random(16) + len(msg) as 4 bytes big-endian + msg + appid``; the reply's
envelope carries ``MsgSignature = sha1(sorted(token, timestamp, nonce, Encrypt))``.

The same scheme and the same checks as wechatpy's ``WeChatCrypto`` (the signature, then
the trailing appid, refused with wechatpy's exception types so the channel's refusals
stay as they were), without its per-message Python: safe mode pays for the envelope on
every message, and wechatpy's share of it was ~40 % of the channel's own work (issue #15).
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from bot.channels.tencent_wire import sha1_signature, signature_matches

BLOCK = 32  # PKCS#7 block of the Tencent scheme (not AES's 16)
_PADS = [bytes([n]) * n for n in range(BLOCK + 1)]


class AesEnvelope:
    """``encrypt_message`` / ``decrypt_message`` as wechatpy's ``WeChatCrypto`` has them."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        key = base64.b64decode(encoding_aes_key + "=")  # as wechatpy reads it
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self.key = key
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self._token = token
        self._appid = appid.encode("utf-8")

    def encrypt(self, text: str) -> str:
        """The base64 ``Encrypt`` of ``text``."""
        msg = text.encode("utf-8")
        # 16 random ASCII bytes in front, as Tencent's samples write them.
        plain = secrets.token_hex(8).encode() + len(msg).to_bytes(4, "big") + msg + self._appid
        plain += _PADS[BLOCK - len(plain) % BLOCK]  # a whole block when already aligned
        enc = self._cipher.encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        """The message inside ``encrypt``; InvalidAppIdException for another appid,
        ValueError (or UnicodeDecodeError) for anything that is not an envelope."""
        dec = self._cipher.decryptor()
        plain = dec.update(base64.b64decode(encrypt)) + dec.finalize()
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= BLOCK or len(plain) < 20 + pad:
            raise ValueError("bad padding")
        content = plain[16:-pad]
        size = int.from_bytes(content[:4], "big")
        if size > len(content) - 4:
            raise ValueError("message length beyond the envelope")
        if content[4 + size :] != self._appid:
            raise InvalidAppIdException()
        return content[4 : 4 + size].decode("utf-8")

    def encrypt_message(self, msg: str, nonce: str, timestamp: str | None = None) -> str:
        """The reply envelope (XML) around ``msg``."""
        timestamp = timestamp or str(int(time.time()))
        encrypt = self.encrypt(msg)
        signature = sha1_signature(self._token, timestamp, nonce, encrypt)
        return (
            f"<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
            f"<TimeStamp>{timestamp}</TimeStamp>\n"
            f"<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
        )

    def decrypt_message(self, msg: Any, signature: str, timestamp: str, nonce: str) -> str:
        """The plaintext of ``msg["Encrypt"]`` once ``signature`` is the one over it."""
        encrypt = msg["Encrypt"]
        expected = sha1_signature(self._token, timestamp, nonce, encrypt)
        if not signature_matches(expected, signature):
            raise InvalidSignatureException()
        return self.decrypt(encrypt)
