"""HTTP 入口的防护：超大请求体不读就拒绝，停滞的客户端按时断开，/console 和 /metrics 只答本机直连。

* A body whose Content-Length is over the limit of its path is refused (413)
  before a byte of it is read, and the connection is closed rather than
  drained; a body without a length stops being read at the limit (aiohttp's
  client_max_size) and is refused the same way.
* A request whose body has not fully arrived ``client_timeout`` seconds after
  its headers is cut off (the connection is closed). Headers that never end
  are cut off by aiohttp's keep-alive timer, which `lianxin serve` sets to the
  same ``client_timeout``.
* An unexpected failure is logged and answered 503, never 500 (platforms retry; the
  dedup holds).
* /console acts as any user and /metrics shows the traffic: only a client on
  this machine may use them, and not through a proxy (a request with
  X-Forwarded-For / Forwarded is refused unless ``server.trust_forwarded``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger("lianxin.app")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOCAL_ONLY = ("/console", "/metrics")
_LOCAL_PREFIXES = tuple(p + "/" for p in LOCAL_ONLY)


def _too_large(limit: int) -> web.Response:
    resp = web.Response(status=413, text=f"request body over {limit} bytes")
    resp.force_close()
    return resp


def _is_loopback(remote: str | None) -> bool:
    try:
        return ipaddress.ip_address(remote or "").is_loopback
    except ValueError:
        return False


def make_guard(
    default_limit: int,
    limits: dict[str, int],
    client_timeout: float,
    trust_forwarded: bool,
    count: Callable[[str, str], None] = lambda path, reason: None,
) -> Middleware:
    """The middleware; ``limits`` maps a path prefix to its own body limit (uploads);
    ``count(path, reason)`` counts a refusal (too_large, stalled, not_local)."""

    def limit_for(path: str) -> int:
        for prefix, limit in limits.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return default_limit

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        # One middleware, the checks and never-500 inline: each layer is a coroutine
        # entered and resumed on every request (issue #15).
        path = request.path
        try:
            if path in LOCAL_ONLY or path.startswith(_LOCAL_PREFIXES):
                proxied = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
                if not _is_loopback(request.remote) or (proxied and not trust_forwarded):
                    count(path, "not_local")
                    return web.Response(status=403, text="local clients only")
            limit = limit_for(path)
            length = request.content_length
            if length is not None and length > limit:
                count(path, "too_large")
                return _too_large(limit)
            if not request.can_read_body or request.content.is_eof():
                try:
                    return await handler(request)
                except web.HTTPRequestEntityTooLarge:
                    # Stop here: close instead of reading the rest of the body to drain it.
                    return _too_large(limit)
            stalled: list[bool] = []

            def cut_off() -> None:
                if not request.content.is_eof() and request.transport is not None:
                    stalled.append(True)
                    count(path, "stalled")
                    log.info("%s: body not received within %.0fs, closing", path, client_timeout)
                    request.transport.close()

            timer = asyncio.get_running_loop().call_later(client_timeout, cut_off)
            try:
                return await handler(request)
            except web.HTTPRequestEntityTooLarge:
                return _too_large(limit)
            except Exception:
                if stalled:  # the handler saw the connection go; nobody is listening
                    return web.Response(status=408)
                raise
            finally:
                timer.cancel()
        except web.HTTPException:
            raise
        except Exception:
            # Never 500: logged and answered 503 (platforms retry; dedup holds).
            log.exception("unhandled error on %s", path)
            return web.Response(status=503, text="temporarily unavailable")

    return guard
