"""带 access_token 的平台接口：微信公众号、企业微信、QQ 机器人的发送器共用的调用循环。

Each call carries a platform access token from the shared TokenCache
(bot/senders/tokens.py) and goes through `TokenSender._call`:

* get the token (a failure to get one is an `Outcome` like any other);
* one try (the platform's ``_attempt``), classified as an `Outcome`;
* token rejected: the token is refreshed once (``TokenCache.refresh``, so
  concurrent callers holding the same rejected token share one fetch) and the
  call is tried again at once;
* transient (and "retry once" on the first try): tried again after
  ``backoff_base · 2ⁿ`` seconds, ``max_attempts`` tries in all;
* anything else comes back as a SendResult at once.

Each platform keeps its own error tables, token request and classification;
`read_token_reply` and `token_lifetime` are the parts of a token request they
share. Neither a secret nor a token value is ever logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
from aiolimiter import AsyncLimiter

from bot.senders.base import Sender, SendResult
from bot.senders.tokens import TokenCache

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@dataclass(slots=True)
class Outcome:
    """One HTTP exchange, classified."""

    ok: bool
    code: int | None = None
    reason: str = ""
    transient: bool = False
    # Worth one more try, but only after the first one (QQ's "retry at most once").
    retry_once: bool = False
    permanent: bool = False
    token_rejected: bool = False
    # The request may have reached the platform (timeout, connection error, 5xx).
    uncertain: bool = False


class TokenError(Exception):
    """The platform's token endpoint did not give a token (code None when it sent none)."""

    def __init__(self, code: int | None, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.transient = transient


Attempt = Callable[[], Awaitable[tuple[Outcome, str | None]]]


async def read_token_reply(
    request: AbstractAsyncContextManager[aiohttp.ClientResponse], error: type[TokenError]
) -> tuple[int, Any]:
    """(HTTP status, the JSON body or None when it is not JSON) of a token request.

    Raises ``error`` (transient) on a timeout, a connection error or HTTP 5xx.
    """
    try:
        async with request as resp:
            status = resp.status
            raw = await resp.read()
    except TimeoutError:
        raise error(None, "请求超时", transient=True) from None
    except aiohttp.ClientError as exc:
        raise error(None, f"连接失败（{type(exc).__name__}）", True) from None
    if status >= 500:
        raise error(None, f"HTTP {status}", transient=True)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def errcode_outcome(
    status: int,
    raw: bytes,
    *,
    api: str,
    known: Mapping[int, tuple[str, bool]],
    transient: frozenset[int],
    token_errors: frozenset[int],
    errmsg: Callable[[str], str] = str,
) -> tuple[Outcome, dict[str, Any]]:
    """A WeChat or WeCom ``{"errcode", "errmsg"}`` answer, classified, and its fields.

    ``api`` names the API in reasons ("微信接口"); ``known`` maps errcode to
    (readable reason, permanent); ``errmsg`` shortens the platform's errmsg.
    """
    if status >= 500:
        return Outcome(ok=False, reason=f"{api} HTTP {status}", transient=True), {}
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        reason = f"{api}返回了无法解析的内容（HTTP {status}）"
        return Outcome(ok=False, reason=reason, transient=status == 200), {}
    errcode = data.get("errcode", 0 if status == 200 else None)
    if errcode == 0:
        return Outcome(ok=True), data
    if not isinstance(errcode, int):
        return Outcome(ok=False, reason=f"{api} HTTP {status}"), data
    message = errmsg(str(data.get("errmsg", "")))
    text, permanent = known.get(errcode, (f"{api}返回错误", False))
    outcome = Outcome(
        ok=False,
        code=errcode,
        reason=f"{text}（{message}）" if message else text,
        transient=errcode in transient,
        permanent=permanent,
        token_rejected=errcode in token_errors,
    )
    return outcome, data


def token_lifetime(data: Mapping[str, Any]) -> float:
    """``expires_in`` in seconds (a number or a numeric string), 7200 when unreadable."""
    try:
        return float(data.get("expires_in", 7200))
    except (TypeError, ValueError):
        return 7200.0


class TokenSender(Sender):
    """A sender whose calls carry an access token from the shared TokenCache.

    Subclasses name their token in the cache (``_token_key``), fetch one
    (``_fetch_token``, raising a `TokenError`), make one try (an ``_attempt``
    handed to `_call`) and name the platform's API in the reasons of transport
    failures (``timeout_reason``, ``connect_reason``). ``config`` has
    ``api_base`` and ``rate_per_minute`` (0: no limit).
    """

    timeout_reason: str = ""
    connect_reason: str = ""

    def __init__(
        self,
        config: Any,
        session: aiohttp.ClientSession,
        tokens: TokenCache,
        *,
        timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
    ) -> None:
        self.config = config
        self.session = session
        self.tokens = tokens
        self.token_key = self._token_key()
        self.api_base = config.api_base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self._limiter = (
            AsyncLimiter(config.rate_per_minute, 60) if config.rate_per_minute > 0 else None
        )
        self._log = logging.getLogger(f"lianxin.senders.{self.platform}")

    @abstractmethod
    def _token_key(self) -> str:
        """The token's key in the TokenCache ("<platform>:<app id>...")."""

    @abstractmethod
    async def _fetch_token(self) -> tuple[str, float]:
        """A new token and its lifetime in seconds; raises a TokenError."""

    async def _replace_token(self, stale: str) -> tuple[str, float]:
        """A token instead of ``stale``, which the platform rejected."""
        return await self._fetch_token()

    # -- the call loop -------------------------------------------------------

    async def _call(self, label: str, attempt: Attempt) -> SendResult:
        """Try until done (see the module docstring); ``label`` names the call in logs."""
        attempts = 0
        refreshed = False
        while True:
            attempts += 1
            outcome, token = await attempt()
            if outcome.ok:
                return SendResult(
                    ok=True, code=outcome.code, reason=outcome.reason, attempts=attempts
                )
            last = attempts >= self.max_attempts
            if outcome.token_rejected and not refreshed and not last and token is not None:
                refreshed = True
                self._log.info(
                    "%s: token for %s rejected (%s), refreshing",
                    label,
                    self.token_key,
                    outcome.code,
                )
                try:
                    await self.tokens.refresh(
                        self.token_key, partial(self._replace_token, token), token
                    )
                except TokenError as exc:
                    return self._token_failure(exc, attempts)
                continue
            retry = outcome.transient or (outcome.retry_once and attempts == 1)
            if retry and not last:
                delay = self.backoff_base * (2 ** (attempts - 1))
                self._log.info(
                    "%s: attempt %d failed (%s %s), retrying in %.2fs",
                    label,
                    attempts,
                    outcome.code,
                    outcome.reason,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            self._log.warning(
                "%s: send failed after %d attempt(s): %s %s",
                label,
                attempts,
                outcome.code,
                outcome.reason,
            )
            return SendResult(
                ok=False,
                code=outcome.code,
                reason=outcome.reason,
                permanent=outcome.permanent,
                attempts=attempts,
            )

    async def _token(self) -> str | Outcome:
        """The access token, or the failure to get one as the outcome of this try."""
        try:
            return await self.tokens.get(self.token_key, self._fetch_token)
        except TokenError as exc:
            return Outcome(
                ok=False,
                code=exc.code,
                reason=f"获取 access_token 失败：{exc.reason}",
                transient=exc.transient,
            )

    async def _post(
        self,
        url: str,
        payload: bytes,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, bytes] | Outcome:
        """Wait for the rate limiter and POST JSON: (status, body), or the transport failure."""
        if self._limiter is not None:
            await self._limiter.acquire()
        try:
            async with self.session.post(
                url,
                params=params,
                data=payload,
                headers={**(headers or {}), **JSON_HEADERS},
                timeout=self.timeout,
            ) as resp:
                return resp.status, await resp.read()
        except TimeoutError:
            return Outcome(ok=False, reason=self.timeout_reason, transient=True, uncertain=True)
        except aiohttp.ClientError as exc:
            # The exception text can contain the URL (with a token or key): name only.
            reason = f"{self.connect_reason}（{type(exc).__name__}）"
            return Outcome(ok=False, reason=reason, transient=True, uncertain=True)

    def _token_failure(self, exc: TokenError, attempts: int) -> SendResult:
        self._log.warning(
            "access token for %s unavailable: %s %s", self.token_key, exc.code, exc.reason
        )
        return SendResult(
            ok=False,
            code=exc.code,
            reason=f"获取 access_token 失败：{exc.reason}",
            attempts=attempts,
        )
