"""居民属于哪个社区：在绑定了组织的群里说话就记下（最近的那个群），私聊时默认用它。

Remembering costs nothing per message: the process keeps what it last wrote for each
identity, and writes (after the reply, as tracked background work) only when the
community changes, or when what it knows is older than `ttl` (another process may
have written since).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from models.people import Organization
from models.talk import Residence

LIMIT = 100_000  # identities kept in memory before the cache starts over


class Communities:
    def __init__(self, now: Callable[[], datetime], ttl: float = 600.0) -> None:
        self.now = now
        self.ttl = ttl
        self._known: dict[str, tuple[int | None, float]] = {}

    def note(self, user_key: str, org_id: int) -> Coroutine[Any, Any, Any] | None:
        """Someone spoke in a group bound to `org_id`: the write to run, if any."""
        known = self._known.get(user_key)
        if known and known[0] == org_id and time.monotonic() - known[1] < self.ttl:
            return None
        self._keep(user_key, org_id)
        return Residence.remember(user_key, org_id, self.now())

    async def choose(self, user_key: str, org: Organization) -> None:
        """/我的社区 组织代码."""
        await Residence.remember(user_key, org.id, self.now())
        self._keep(user_key, org.id)

    async def of(self, user_key: str) -> Organization | None:
        """The community this identity belongs to, or None when nobody knows."""
        known = self._known.get(user_key)
        if known and time.monotonic() - known[1] < self.ttl:
            org_id = known[0]
        else:
            row = await Residence.filter(user_key=user_key).first()
            org_id = row.org_id if row else None
            self._keep(user_key, org_id)
        return await Organization.filter(id=org_id).first() if org_id else None

    def _keep(self, user_key: str, org_id: int | None) -> None:
        if len(self._known) >= LIMIT:
            self._known.clear()
        self._known[user_key] = (org_id, time.monotonic())


async def home_org(ctx: Any) -> Any:
    """The organisation a service defaults to: the group's, or in private the asker's
    community (None when neither is known)."""
    if ctx.org is not None or ctx.inbound.is_group:
        return ctx.org
    communities = ctx.runtime.communities
    return await communities.of(ctx.inbound.user_key) if communities is not None else None
