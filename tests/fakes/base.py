"""What the fake platform APIs share: an aiohttp app that runs with or without
pytest-aiohttp, a record of every request, and scripted trouble for the next calls.

* ``start()`` / ``close()`` / ``async with``: serve ``app`` on a free local port
  and set ``base_url``; under pytest-aiohttp, ``await fake.serve(aiohttp_server)``.
* ``requests``: every request, in order (a `RecordedRequest` from ``_record``).
* ``http_error_next``, ``delay_next``, ``clear_scripts`` (and each fake's own
  ``fail_next``): a script applies to the next call to its ``path``, or with no
  path to the next call to any endpoint but ``TOKEN_PATH``. Handlers call
  ``_scripted(path)`` to apply it.

`FakeTokenAPI` adds what the fakes of token-based APIs share: ``token_fetches``,
``sends`` and ``current_token``; `FakeErrcodeAPI` what the WeChat and WeCom
fakes share: ``{"errcode", "errmsg"}`` answers (``fail_next``) and tokens that
are valid, expired or invalidated (``expire_tokens``).
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Self

from aiohttp import web


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    # The parsed JSON body, or None when it was empty or not JSON.
    json: Any
    headers: dict[str, str]
    # time.monotonic() when the request arrived.
    at: float = 0.0
    # OneBot: the action's parameters (query merged with the JSON or form body).
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Script:
    path: str | None  # None: any endpoint but TOKEN_PATH
    kind: str  # "fail" | "http" | "delay", or a kind of the fake's own
    status: int = 500
    seconds: float = 0.0
    # For "fail": the platform's error answer.
    answer: Callable[[], web.Response] | None = None


def json_response(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
    )


class FakeAPI:
    # The token endpoint: scripts without a path leave it alone (None: no such endpoint).
    TOKEN_PATH: str | None = None

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.base_url = ""
        self._scripts: list[Script] = []
        self._runner: web.AppRunner | None = None
        self.app = web.Application()

    # -- scripting -----------------------------------------------------------

    def _script(self, script: Script, times: int) -> None:
        for _ in range(times):
            self._scripts.append(script)

    def http_error_next(
        self, status: int = 500, times: int = 1, *, path: str | None = None
    ) -> None:
        """Answer the next ``times`` calls with a bare HTTP error page."""
        self._script(Script(path, "http", status=status), times)

    def delay_next(self, seconds: float, times: int = 1, *, path: str | None = None) -> None:
        """Hold the next ``times`` calls for ``seconds``, then answer normally."""
        self._script(Script(path, "delay", seconds=seconds), times)

    def clear_scripts(self) -> None:
        self._scripts.clear()

    # -- running ---------------------------------------------------------------

    async def serve(self, aiohttp_server: Any) -> Self:
        """Serve ``app`` on pytest-aiohttp's test server and set ``base_url``."""
        server = await aiohttp_server(self.app)
        self.base_url = str(server.make_url("")).rstrip("/")
        return self

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        real_port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{real_port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- for the handlers ----------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest:
        at = time.monotonic()
        body = await request.read()
        try:
            parsed = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            parsed = None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            body=body,
            json=parsed,
            headers=dict(request.headers),
            at=at,
        )
        self.requests.append(rec)
        return rec

    def _next_script(self, path: str) -> tuple[int, Script] | None:
        """The first script meant for this path (and its index), if any."""
        for i, script in enumerate(self._scripts):
            if script.path == path or (script.path is None and path != self.TOKEN_PATH):
                return i, script
        return None

    def _http_error(self, status: int) -> web.Response:
        return web.Response(
            status=status, text=f"<html><body>{status}</body></html>", content_type="text/html"
        )

    async def _scripted(self, path: str) -> web.Response | None:
        """Apply the first script meant for this path, if any."""
        found = self._next_script(path)
        if found is None:
            return None
        i, script = found
        del self._scripts[i]
        if script.kind == "delay":
            await asyncio.sleep(script.seconds)
            return None
        if script.kind == "http":
            return self._http_error(script.status)
        assert script.answer is not None
        return script.answer()


class FakeTokenAPI(FakeAPI):
    TOKEN_PATH: str

    def __init__(self) -> None:
        super().__init__()
        self._current: Any = None  # the token the fake hands out now (has .value)
        self._issued = 0

    @property
    def token_fetches(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == self.TOKEN_PATH]

    @property
    def sends(self) -> list[RecordedRequest]:
        """Requests to the message endpoints, accepted or not."""
        return [r for r in self.requests if r.path != self.TOKEN_PATH]

    @property
    def current_token(self) -> str | None:
        return self._current.value if self._current else None


@dataclass
class Token:
    value: str
    issued: float  # time.monotonic()
    state: str = "valid"  # "valid" | "expired" | the fake's word for invalidated


class FakeErrcodeAPI(FakeTokenAPI):
    # Published errmsg texts for the codes the fake can produce by itself.
    ERRMSG: dict[int, str] = {}

    def __init__(self) -> None:
        super().__init__()
        self._tokens: dict[str, Token] = {}
        self._current: Token | None = None

    @staticmethod
    @abstractmethod
    def _error(errcode: int, errmsg: str | None = None, **extra: Any) -> web.Response:
        """The platform's ``{"errcode", "errmsg", **extra}`` answer."""

    def fail_next(
        self,
        errcode: int,
        errmsg: str | None = None,
        times: int = 1,
        *,
        path: str | None = None,
        **extra: Any,
    ) -> None:
        """Answer the next ``times`` calls with ``{"errcode", "errmsg", **extra}``."""
        msg = self.ERRMSG.get(errcode, "error") if errmsg is None else errmsg
        answer = partial(self._error, errcode, msg, **extra)
        self._script(Script(path, "fail", answer=answer), times)

    def expire_tokens(self) -> None:
        """Every issued token is now expired (42001); the token endpoint issues a new one."""
        for tok in self._tokens.values():
            if tok.state == "valid":
                tok.state = "expired"
