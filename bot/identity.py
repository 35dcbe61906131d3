"""身份：(平台, 用户 id) → Person、角色、所在组织；带失效的进程内缓存。

A person is created lazily, on the first thing they do that needs a record;
reading commands (/帮助, /我) work for anyone without a write. Role and
binding changes made here invalidate the cache at once; changes made by
another process show up within `identity_cache_seconds`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.db import placeholders
from models.people import GroupBinding, Identity, Organization, Person, RoleGrant

NICKNAME_CHARS = 64  # Identity.nickname, Person.nickname
LOAD_CHUNK = 500  # callers read by one statement at most
# grid_worker (网格员) is a duty in a grid, not a rank: it grants nothing else.
ROLE_RANK = {"resident": 0, "grid_worker": 0, "member": 1, "officer": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class OrgView:
    id: int
    code: str
    name: str
    kind: str
    path: str

    @classmethod
    def of(cls, org: Organization) -> OrgView:
        return cls(org.id, org.code, org.name, org.kind, org.path)

    def contains(self, other: OrgView) -> bool:
        return other.path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class RoleView:
    role: str
    org: OrgView | None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a message, as far as the bot knows."""

    platform: str
    user_id: str
    display_name: str
    person_id: int | None = None
    real_name: str | None = None
    roles: tuple[RoleView, ...] = field(default=())
    # This account's stored platform nickname: a different one sent is a change to keep.
    nickname: str = ""

    @property
    def user_key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def name(self) -> str:
        return self.real_name or self.display_name or self.user_id

    # Derived once: permission checks run several times per message.
    top_role: str = field(init=False, default="resident")
    is_admin: bool = field(init=False, default=False)
    _officer_orgs: tuple[OrgView, ...] = field(init=False, default=(), repr=False)

    def __post_init__(self) -> None:
        top = max((r.role for r in self.roles), key=ROLE_RANK.__getitem__, default="resident")
        object.__setattr__(self, "top_role", top)
        object.__setattr__(self, "is_admin", any(r.role == "admin" for r in self.roles))
        orgs = tuple(r.org for r in self.roles if r.role == "officer" and r.org is not None)
        object.__setattr__(self, "_officer_orgs", orgs)

    def has_role(self, role: str) -> bool:
        """At least this role anywhere (admin counts as everything)."""
        return ROLE_RANK[self.top_role] >= ROLE_RANK[role]

    def officer_orgs(self) -> list[OrgView]:
        return list(self._officer_orgs)

    def scope_paths(self) -> list[str]:
        """The organisation paths an officer looks after ("/" for an admin without one)."""
        if self.is_admin and not self.officer_orgs():
            return ["/"]
        return [o.path for o in self.officer_orgs()]

    def is_officer_of(self, org: OrgView | Organization) -> bool:
        """Officer of this organisation or of one above it; admins everywhere."""
        if self.is_admin:
            return True
        path = org.path
        return any(path.startswith(o.path) for o in self._officer_orgs)


@dataclass(slots=True)
class _Record:
    """What a caller is made of: the identity's row and its person's names."""

    person_id: int
    display_name: str  # Person.display_name: a name of their own
    real_name: str | None
    person_nickname: str  # Person.nickname: the latest platform name
    roles: tuple[RoleView, ...]
    identity_id: int
    nickname: str  # Identity.nickname

    def caller(self, platform: str, user_id: str, display_name: str) -> Caller:
        # A chosen name, else the platform's latest, else what this chat calls them.
        called = self.display_name or self.person_nickname or display_name
        return Caller(
            platform, user_id, called, self.person_id, self.real_name, self.roles, self.nickname
        )


# The callers of a batch, one statement: written out, because building it with the ORM
# (a join and an OR of IN lists) cost more than the rest of a first message (issue #15).
_CALLERS_SQL = (
    "SELECT i.platform, i.user_id, i.id, i.nickname, i.person_id, p.display_name,"
    " p.real_name, p.nickname AS person_nickname"
    " FROM identity i JOIN person p ON p.id = i.person_id WHERE "
)


# A cached caller is read again in the background once it is used in the last third
# of its life.
REFRESH_AHEAD = 1 / 3


class IdentityService:
    def __init__(self, cache_seconds: float = 30.0) -> None:
        self.cache_seconds = cache_seconds
        self._callers: dict[str, tuple[float, Caller]] = {}
        self._chat_orgs: dict[str, tuple[float, OrgView | None]] = {}
        self._chat_loading: dict[str, asyncio.Future[OrgView | None]] = {}
        # Lookups that arrive together are loaded together (one query for the batch).
        self._waiting: dict[tuple[str, str], asyncio.Future[_Record | None]] = {}
        self._loader: asyncio.Task[None] | None = None
        # Bumped on every invalidation: a load that started before it is not cached.
        self._generation = 0
        # Callers being read again before their entry expires (_refresh).
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    # -- callers ---------------------------------------------------------
    async def resolve(
        self, platform: str, user_id: str, display_name: str = "", nickname: str = ""
    ) -> Caller:
        """`display_name`: what this chat calls the sender (a group card); `nickname`: the
        platform's account-wide name, kept on the identity when it changes."""
        key = f"{platform}:{user_id}"
        hit = self._callers.get(key)
        now = time.monotonic()
        nickname = nickname[:NICKNAME_CHARS]  # as stored, so an unchanged one compares equal
        if hit and hit[0] > now and not self._renamed(hit[1], nickname):
            if hit[0] - now < self.cache_seconds * REFRESH_AHEAD and key not in self._refreshing:
                self._refresh(key, platform, user_id, display_name)
            return hit[1]
        generation = self._generation
        record = await self._lookup(platform, user_id)
        if record is not None and nickname and nickname != record.nickname:
            await self._store_nickname(record, nickname)
        caller = self._caller_of(record, platform, user_id, display_name)
        self._keep(key, now, generation, caller)
        return caller

    @staticmethod
    def _caller_of(
        record: _Record | None, platform: str, user_id: str, display_name: str
    ) -> Caller:
        caller = record.caller(platform, user_id, display_name) if record else None
        return caller or Caller(platform, user_id, display_name)

    def _keep(self, key: str, now: float, generation: int, caller: Caller) -> None:
        """Cache ``caller`` read from ``now`` on, unless an invalidation came meanwhile."""
        if generation != self._generation:
            return
        self._callers[key] = (now + self.cache_seconds, caller)
        if len(self._callers) > 100_000:  # bounded: drop the oldest half
            for k in list(self._callers)[:50_000]:
                self._callers.pop(k, None)

    def _refresh(self, key: str, platform: str, user_id: str, display_name: str) -> None:
        """Read a caller again shortly before the cached entry expires, off the request's
        path: a request never waits for the database for someone it saw moments ago. What
        is returned is never older than ``cache_seconds``, as before. Without this, every
        entry filled in the same second expired in the same second, and the messages of
        that second all waited for a read (the p99 of the hot path, issue #15)."""
        task = asyncio.create_task(self._reload(key, platform, user_id, display_name))
        self._refreshing[key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key, None))

    async def _reload(self, key: str, platform: str, user_id: str, display_name: str) -> None:
        now, generation = time.monotonic(), self._generation
        try:
            record = await self._lookup(platform, user_id)
        except Exception:  # the database is down: the next miss meets it on its own path
            return
        self._keep(key, now, generation, self._caller_of(record, platform, user_id, display_name))

    @staticmethod
    def _renamed(caller: Caller, nickname: str) -> bool:
        """A known person's account now sends another nickname (no query to know)."""
        return bool(nickname) and caller.person_id is not None and nickname != caller.nickname

    @staticmethod
    async def _store_nickname(record: _Record, nickname: str) -> None:
        """People made by `lianxin admin grant` or an import have no name, and platform
        names change: the account's nickname is what officers then see (and /兑换 finds)
        unless the person has a name of their own (Person.name_of)."""
        # Set first: callers waiting on the same record then see no change to write.
        record.nickname = record.person_nickname = nickname
        await Identity.note_nickname(record.identity_id, record.person_id, nickname)

    def _lookup(self, platform: str, user_id: str) -> asyncio.Future[_Record | None]:
        fut = self._waiting.get((platform, user_id))
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._waiting[(platform, user_id)] = fut
            if self._loader is None or self._loader.done():
                self._loader = asyncio.create_task(self._load_batch())
        return fut

    async def _load_batch(self) -> None:
        await asyncio.sleep(0)  # let the requests already running queue their lookups
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                records = await self._load(list(batch))
            except Exception as exc:  # every waiter learns of the failure
                for fut in batch.values():
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for key, fut in batch.items():
                if not fut.done():
                    fut.set_result(records.get(key))

    @classmethod
    async def _load(cls, keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Record]:
        records: dict[tuple[str, str], _Record] = {}
        for start in range(0, len(keys), LOAD_CHUNK):  # never an unbounded list of ids
            records.update(await cls._load_chunk(keys[start : start + LOAD_CHUNK]))
        return records

    @staticmethod
    async def _load_chunk(keys: list[tuple[str, str]]) -> dict[tuple[str, str], _Record]:
        by_platform: dict[str, list[str]] = {}
        for platform, user_id in keys:
            by_platform.setdefault(platform, []).append(user_id)
        if not by_platform:
            return {}
        conn = connections.get("default")
        values: list[str] = []
        ors = []
        for platform, users in by_platform.items():
            first, *marks = placeholders(conn, 1 + len(users), first=len(values) + 1)
            values += [platform, *users]
            ors.append(f"(i.platform = {first} AND i.user_id IN ({','.join(marks)}))")
        rows = await conn.execute_query_dict(_CALLERS_SQL + " OR ".join(ors), values)
        if not rows:
            return {}
        grants = await RoleGrant.filter(
            person_id__in=[r["person_id"] for r in rows]
        ).select_related("org")
        roles: dict[int, list[RoleView]] = {}
        for g in grants:
            roles.setdefault(g.person_id, []).append(
                RoleView(g.role, OrgView.of(g.org) if g.org else None)
            )
        return {
            (r["platform"], r["user_id"]): _Record(
                r["person_id"],
                r["display_name"] or "",
                r["real_name"],
                r["person_nickname"] or "",
                tuple(roles.get(r["person_id"], ())),
                r["id"],
                r["nickname"] or "",
            )
            for r in rows
        }

    async def ensure_person(
        self, platform: str, user_id: str, nickname: str = "", *, name: str = ""
    ) -> Person:
        """The caller's Person, created on first need; safe under concurrent first messages.
        `nickname` (the platform's account-wide name) is kept on the new identity and as
        the person's nickname; `name` (a seed's) is a name of their own (display_name)."""
        identity = (
            await Identity.filter(platform=platform, user_id=user_id)
            .select_related("person")
            .first()
        )
        if identity:
            person: Person = identity.person
            return person
        try:
            async with in_transaction():
                nickname = nickname[:NICKNAME_CHARS]
                person = await Person.create(display_name=name[:64], nickname=nickname)
                await Identity.create(
                    platform=platform, user_id=user_id, person=person, nickname=nickname
                )
        except IntegrityError:
            # Another request created it first: use theirs.
            identity = await Identity.get(platform=platform, user_id=user_id).prefetch_related(
                "person"
            )
            person = identity.person
        self.invalidate(f"{platform}:{user_id}")
        return person

    async def grant(
        self, person: Person, role: str, org: Organization | None, granted_by: str = ""
    ) -> bool:
        """Grant a role; returns False when it was already held."""
        _, created = await RoleGrant.get_or_create(
            person=person, role=role, org=org, defaults={"granted_by": granted_by}
        )
        await self.invalidate_person(person.id)
        return created

    def invalidate(self, user_key: str) -> None:
        self._generation += 1
        self._callers.pop(user_key, None)

    async def invalidate_person(self, person_id: int) -> None:
        for ident in await Identity.filter(person_id=person_id):
            self.invalidate(f"{ident.platform}:{ident.user_id}")

    # -- group bindings --------------------------------------------------
    async def chat_org(self, platform: str, chat_id: str) -> OrgView | None:
        key = f"{platform}:{chat_id}"
        hit = self._chat_orgs.get(key)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        # Messages of one group that arrive together wait for one query.
        loading = self._chat_loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load_chat(key, platform, chat_id, now))
            self._chat_loading[key] = loading
            loading.add_done_callback(lambda _: self._chat_loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load_chat(self, key: str, platform: str, chat_id: str, now: float) -> OrgView | None:
        generation = self._generation
        binding = (
            await GroupBinding.filter(platform=platform, chat_id=chat_id)
            .select_related("org")
            .first()
        )
        view = OrgView.of(binding.org) if binding else None
        if generation == self._generation:
            self._chat_orgs[key] = (now + self.cache_seconds, view)
        return view

    async def bind_chat(
        self, platform: str, chat_id: str, org: Organization, by: Person | None, purpose: str = ""
    ) -> GroupBinding:
        """Bind the chat; `purpose` models.people.WORK_GROUP marks the officers' work group."""
        binding, created = await GroupBinding.get_or_create(
            platform=platform,
            chat_id=chat_id,
            defaults={"org": org, "bound_by": by, "purpose": purpose},
        )
        if not created and (binding.org_id != org.id or binding.purpose != purpose):
            binding.org = org
            binding.bound_by = by
            binding.purpose = purpose
            await binding.save(update_fields=["org_id", "bound_by_id", "purpose"])
        self.forget_chat(platform, chat_id)
        return binding

    def forget_chat(self, platform: str, chat_id: str) -> None:
        self._generation += 1  # a binding being read now is not kept
        self._chat_orgs.pop(f"{platform}:{chat_id}", None)

    async def bootstrap_admins(self, admins: list[str]) -> None:
        """Make sure every `platform:user` in [bot].admins holds the admin role."""
        for entry in admins:
            platform, _, user_id = entry.partition(":")
            person = await self.ensure_person(platform, user_id)
            await self.grant(person, "admin", None, granted_by="config")
