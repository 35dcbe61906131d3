"""Reference servers the bot is measured against, each run in its own process.

    python -m bench.refservers bare PORT      # reads the body, returns a fixed reply
    python -m bench.refservers wechatpy PORT  # wechatpy only: signature, parse, TextReply

The wechatpy handler does what any wechatpy bot must do per message, and no more:
check the signature (and in safe mode the msg_signature and decryption), parse,
build a TextReply and render it (encrypted in safe mode). No database, no logging.
"""

from __future__ import annotations

import sys

from aiohttp import web
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bench.payloads import BARE_REPLY, WECHAT_AES_KEY, WECHAT_APPID, WECHAT_TOKEN

# About as long as the bot's own /帮助 menu.
HELP_TEXT = "连心 · 可用命令\n\n" + "\n".join(
    f"{i}. /命令{i} — 一条命令的简短说明，大约这么长" for i in range(1, 9)
)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def bare(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BARE_REPLY, content_type="application/json")


def bare_app() -> web.Application:
    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.post("/onebot", bare)])
    return app


def wechatpy_app() -> web.Application:
    crypto = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APPID)

    async def wechat(request: web.Request) -> web.Response:
        q = request.query
        body = await request.read()
        safe = q.get("encrypt_type") == "aes"
        try:
            check_signature(WECHAT_TOKEN, q["signature"], q["timestamp"], q["nonce"])
            if safe:
                body = crypto.decrypt_message(body, q["msg_signature"], q["timestamp"], q["nonce"])
            msg = parse_message(body)
        except (KeyError, InvalidSignatureException, InvalidAppIdException):
            return web.Response(status=403, text="bad signature")
        if msg.type != "text":
            return web.Response(text="success")
        if msg.content.strip() == "/我":
            text = f"您好！\n平台身份：wechat:{msg.source}\n角色：群众"
        else:
            text = HELP_TEXT
        xml = TextReply(content=text, message=msg).render()
        if safe:
            xml = crypto.encrypt_message(xml, q["nonce"], q["timestamp"])
        return web.Response(text=xml, content_type="application/xml")

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.post("/wechat", wechat)])
    return app


APPS = {"bare": bare_app, "wechatpy": wechatpy_app}


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    web.run_app(APPS[kind](), host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
