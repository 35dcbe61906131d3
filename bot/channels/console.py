"""开发用 JSON 渠道：POST /console {"user","chat","group","text","name"} → {"replies": [...]}。

On by default only when the server listens on loopback. The same dispatcher
serves `lianxin chat` in the terminal.
"""

from __future__ import annotations

import json

from aiohttp import web

from bot.channels.base import Channel
from bot.inbound import Inbound
from bot.senders.console import ConsoleSender


class ConsoleChannel(Channel):
    name = "console"
    path = "/console"

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return self.reject(400, "bad_json", "body must be JSON")
        if not isinstance(body, dict):
            return self.reject(400, "bad_json", "body must be a JSON object")
        user = body.get("user")
        text = body.get("text", "")
        if not isinstance(user, str) or not user.strip() or not isinstance(text, str):
            return self.reject(400, "bad_fields", 'expected {"user": str, "text": str, ...}')
        group = bool(body.get("group", False))
        chat = str(body.get("chat") or user)
        inbound = Inbound(
            platform="console",
            user_id=user.strip(),
            chat_id=chat,
            text=text,
            display_name=str(body.get("name") or ""),
            nickname=str(body.get("name") or ""),
            is_group=group,
            mentioned_bot=bool(body.get("mention", False)),
            kind=str(body.get("kind") or "text"),
            event_id=str(body.get("id") or ""),
            raw=body,
        )
        replies = await self.rt.dispatcher.handle(inbound)
        body = {"replies": [r.text for r in replies]}
        sender = self.rt.senders.get("console")
        if isinstance(sender, ConsoleSender):
            # What the bot pushed to this person or chat since they last spoke.
            body["pushes"] = sender.take(inbound.user_id, inbound.chat_id)
        return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))
