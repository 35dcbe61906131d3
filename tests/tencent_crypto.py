"""The platform's side of WeChat's and WeCom's signatures and AES, for tests.

Written from the rules in shared/protocols.md §1.1/§1.5 (WeCom §2 uses the same
scheme with the CorpID as receive id) with hashlib and the ``cryptography``
package directly — never with wechatpy or the channels' own code — so that the
channels' answers are judged by an independent implementation:

* signature: sort (token, timestamp, nonce[, Encrypt]), concatenate, SHA-1,
  lowercase hex;
* AES-256-CBC with key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7
  padding to 32 bytes, plaintext random(16) + msg_len (4 bytes, big-endian) +
  msg + receive id (the appid or the CorpID).
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def sha1_signature(*parts: str) -> str:
    """protocols.md §1.1/§1.5: sort, concatenate, SHA-1, lowercase hex."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    assert len(key) == 32
    return key


def encrypt(
    encoding_aes_key: str, receive_id: str, msg: bytes, random16: bytes | None = None
) -> str:
    key = aes_key(encoding_aes_key)
    full = (random16 or os.urandom(16)) + struct.pack(">I", len(msg)) + msg + receive_id.encode()
    pad = 32 - len(full) % 32
    full += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(full) + enc.finalize()).decode()


def decrypt(encoding_aes_key: str, encrypted: str) -> tuple[bytes, bytes, str]:
    """(random, msg, receive id), checking the K=32 PKCS#7 padding."""
    key = aes_key(encoding_aes_key)
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    raw = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    pad = raw[-1]
    assert 1 <= pad <= 32 and raw[-pad:] == bytes([pad]) * pad, "bad PKCS#7 (K=32) padding"
    raw = raw[:-pad]
    (length,) = struct.unpack(">I", raw[16:20])
    return raw[:16], raw[20 : 20 + length], raw[20 + length :].decode()
