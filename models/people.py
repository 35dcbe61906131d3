"""人员、组织、身份与角色。"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pypika_tortoise.context import SqlContext
from pypika_tortoise.enums import Dialects
from pypika_tortoise.terms import Term, ValueWrapper
from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.transactions import in_transaction

from bot.db import prefix_match, prefix_values
from bot.targets import chat_target
from bot.text import fold_width, mask_phones
from models.errors import DomainError

ORG_KINDS = ("district", "street", "community", "branch", "grid", "department", "partner")
ROLES = ("resident", "member", "officer", "admin", "grid_worker")
# Ids bound in one query at most: lists of people can be a whole district (100,000),
# far over PostgreSQL's 32,767 parameters; larger lists go in slices of this size.
ID_CHUNK = 1000


def chunked(ids: Iterable[int], size: int = ID_CHUNK) -> list[list[int]]:
    ordered = sorted(set(ids))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


# A subtree this high (the district, a street) holds hundreds of organisations or more.
WIDE_DEPTH = 2


class OrgsUnder(Term):
    """`SELECT id FROM organization WHERE path starts with one of the prefixes`.

    tortoise's __startswith is a bare `LIKE $n`: no plan PostgreSQL keeps can use an
    index for it, so it planned every such statement on every call. Here a community's
    or a branch's prefix is bound with prefix_match's bounds, and PostgreSQL plans the
    statement once; the plan it keeps expects a few organisations, which would make the
    district's statements 5-10x slower, so a prefix at most WIDE_DEPTH deep is written
    into the statement, planned once for its real size (a few such statements)."""

    def __init__(self, paths: Iterable[str], exact: Iterable[str] = ()) -> None:
        super().__init__()
        self.paths, self.exact = list(paths), list(exact)

    def get_sql(self, ctx: SqlContext) -> str:
        tests = []
        if self.exact:  # these organisations themselves (an activity's ancestors)
            marks = ",".join(ValueWrapper(p).get_sql(ctx) for p in self.exact)
            tests.append(f"path IN ({marks})")
        for path in self.paths:
            values = prefix_values(path)
            if ctx.dialect != Dialects.POSTGRESQL:  # SQLite: the LIKE, as tortoise's
                tests.append(f"path LIKE {ValueWrapper(values[0]).get_sql(ctx)} ESCAPE '\\'")
                continue
            wide = path.count("/") <= WIDE_DEPTH + 1
            marks = [ValueWrapper(v, allow_parametrize=not wide).get_sql(ctx) for v in values]
            tests.append(f"({prefix_match('path', marks)})")
        sql = f"SELECT id FROM organization WHERE {' OR '.join(tests) or '1=0'}"
        return f"({sql})" if ctx.subquery else sql


def orgs_under(paths: Iterable[str], exact: Iterable[str] = ()) -> OrgsUnder:
    """The ids of the organisations under any of `paths` (themselves included), and of
    those at the `exact` paths, as a subquery: "in this subtree" becomes
    `org_id IN (SELECT …)`, never a list of ids."""
    return OrgsUnder(paths, exact)


class Viewer(Protocol):
    """Who looks (bot.identity.Caller): the model methods that decide what one may see."""

    @property
    def is_admin(self) -> bool: ...

    def is_officer_of(self, org: Any) -> bool: ...

    def scope_paths(self) -> list[str]: ...


def scope_q(paths: Iterable[str], *columns: str) -> Q:
    """The one scope filter: rows whose organisation ``columns`` (default ``org_id``) lie
    under any of ``paths`` (Caller.scope_paths), as one subquery, never a list of ids."""
    orgs = orgs_under(paths)
    return Q(*[Q(**{f"{c}__in": orgs}) for c in columns or ("org_id",)], join_type="OR")


class Organization(Model):
    """党组织树：区委 → 街道党工委 → 社区党委 → 支部 → 网格/党小组。

    `path` is the materialised chain of ancestor ids ("/1/4/9/") so that
    "this organisation and its subtree" is one prefix match.
    """

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=16)
    parent = fields.ForeignKeyField(
        "models.Organization", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None  # the column tortoise adds, for type checkers
    path = fields.CharField(max_length=255, default="/", db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization"

    @classmethod
    async def create_in_tree(
        cls, code: str, name: str, kind: str, parent: Organization | None = None
    ) -> Organization:
        if kind not in ORG_KINDS:
            raise ValueError(f"unknown organisation kind {kind!r}")
        org = await cls.create(code=code, name=name, kind=kind, parent=parent)
        org.path = f"{parent.path if parent else '/'}{org.id}/"
        await org.save(update_fields=["path"])
        return org

    @classmethod
    async def by_code(cls, code: str) -> Organization:
        """The organisation with this code as people type it (full-width, lower case);
        DomainError ``unknown_org`` when there is none."""
        folded = fold_width(code).strip().upper()
        org = await cls.filter(code=folded).first()
        if org is None:
            raise DomainError("unknown_org", org_code=folded)
        return org

    @classmethod
    async def find(cls, code: str) -> Organization | None:
        """The organisation with this code, or None (an answer that may be a name)."""
        return await cls.filter(code=fold_width(code).strip().upper()).first()

    def contains(self, other: Organization) -> bool:
        """True when `other` is this organisation or lies in its subtree."""
        return other.path.startswith(self.path)


class Person(Model):
    """一个人，可在多个平台有身份（微信 openid、QQ 号）。"""

    id = fields.IntField(primary_key=True)
    # A name someone chose (/改称呼, an officer, a seed); the platform's is `nickname`.
    display_name = fields.CharField(max_length=64, default="")
    real_name = fields.CharField(max_length=64, null=True)
    # The platform nickname that changed last on any of this person's identities
    # (Identity.nickname keeps each account's): a copy, so lists never join identities.
    nickname = fields.CharField(max_length=64, default="", db_default="")
    phone = fields.CharField(max_length=20, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(null=True)
    # 双重管理 (models/checkin.py fills these): the branch holding the relation (in the
    # system, or its name when outside), the organisation the person checked in to.
    home_org = fields.ForeignKeyField(
        "models.Organization", related_name="home_people", null=True, on_delete=fields.SET_NULL
    )
    home_branch = fields.CharField(max_length=100, default="", db_default="")
    local_org = fields.ForeignKeyField(
        "models.Organization", related_name="local_people", null=True, on_delete=fields.SET_NULL
    )
    member_type = fields.CharField(max_length=16, default="", db_default="")  # full / probationary
    # registered / unregistered
    relation_status = fields.CharField(max_length=16, default="", db_default="")
    # flow_in / flow_out / in_service
    flow_status = fields.CharField(max_length=16, default="", db_default="")

    class Meta:
        table = "person"
        # Officers' views count people by home branch / local organisation (#15).
        # (with the columns they count by: no row is read for a count; and the id, so
        # that a branch's people for /排行 come from the index alone on PostgreSQL)
        indexes = (
            ("home_org_id", "relation_status", "last_seen_at", "id"),
            ("local_org_id", "relation_status", "last_seen_at", "id"),
        )

    DISPLAY_NAME_MAX = 20

    @classmethod
    def valid_display_name(cls, text: str) -> str:
        """What the bot may call someone (/改称呼): 1 to 20 characters."""
        name = text.strip()
        if not 1 <= len(name) <= cls.DISPLAY_NAME_MAX:
            raise DomainError("display_name_length", limit=cls.DISPLAY_NAME_MAX)
        return name

    # What a list reads to call people: values_list(*NAME_FIELDS) → name_from(row).
    NAME_FIELDS = ("id", "real_name", "display_name", "nickname", "phone")

    @property
    def name(self) -> str:
        return self.name_of(
            self.id, self.real_name, self.display_name, nickname=self.nickname, phone=self.phone
        )

    @classmethod
    def name_from(cls, row: tuple[Any, ...]) -> str:
        """`name_of` for a row read as values_list(*NAME_FIELDS)."""
        pid, real, display, nickname, phone = row
        return cls.name_of(pid, real, display, nickname=nickname, phone=phone)

    @staticmethod
    def name_q(name: str, *, contains: bool = False) -> Q:
        """People an officer names: by their name or their platform nickname."""
        op = "__contains" if contains else ""
        cols = ("real_name", "display_name", "nickname")
        return Q(*[Q(**{f"{c}{op}": name}) for c in cols], join_type="OR")

    def called(self, name: str) -> bool:
        """Whether `name` is exactly one of this person's names (see `name_q`)."""
        return bool(name) and name in (self.real_name, self.display_name, self.nickname)

    def covered_by(self, viewer: Viewer) -> bool:
        """Whether `viewer` is an officer over this person: of their home branch or of the
        organisation they checked in to (双重管理; home_org/local_org loaded)."""
        orgs = [o for o in (self.home_org, self.local_org) if o is not None]
        return any(viewer.is_officer_of(o) for o in orgs)

    def phone_shown_to(self, viewer: Viewer, phone: str | None = None) -> str:
        """This person's phone (or `phone`, e.g. a registration's) as `viewer` may see it:
        in full for an officer over them, else masked (138****1234)."""
        phone = self.phone if phone is None else phone
        return (phone or "") if self.covered_by(viewer) else mask_phones(phone or "")

    @staticmethod
    def name_of(
        person_id: int,
        real_name: str | None,
        display_name: str | None,
        *,
        nickname: str | None = None,
        phone: str | None = None,
    ) -> str:
        """How a person is shown, everywhere (also for rows read as plain values): a name
        a person gave (registered, imported, seeded, /改称呼) wins, else the latest
        platform nickname, else "居民（尾号1234）" from the phone, else "居民（编号7）";
        never a bare "#7"."""
        if real_name or display_name or nickname:
            return real_name or display_name or nickname or ""
        digits = "".join(c for c in phone or "" if c.isdigit())
        return f"居民（尾号{digits[-4:]}）" if len(digits) >= 4 else f"居民（编号{person_id}）"


class Identity(Model):
    """(平台, 平台用户 id) → Person，唯一。"""

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=16)
    user_id = fields.CharField(max_length=128)
    person = fields.ForeignKeyField("models.Person", related_name="identities")
    person_id: int  # the column tortoise adds, for type checkers
    created_at = fields.DatetimeField(auto_now_add=True)
    # The account's platform-wide name as last sent (OneBot v11 sender.nickname, never
    # the per-group card): compared in memory, written only when it changes.
    nickname = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "identity"
        unique_together = (("platform", "user_id"),)
        indexes = (("person_id",),)  # where to reach a person (every notice, #15)

    @classmethod
    async def note_nickname(cls, identity_id: int, person_id: int, nickname: str) -> None:
        """The account's nickname changed: keep it, and as the person's latest."""
        async with in_transaction():
            await cls.filter(id=identity_id).update(nickname=nickname)
            await Person.filter(id=person_id).update(nickname=nickname)

    @classmethod
    async def targets_of(cls, person_ids: Iterable[int]) -> dict[int, list[str]]:
        """Where to reach each person privately ("platform:user", each identity), in one
        query per `ID_CHUNK` people."""
        out: dict[int, list[str]] = {}
        for ids in chunked(person_ids):
            rows = cls.filter(person_id__in=ids).order_by("id")
            for pid, platform, user in await rows.values_list("person_id", "platform", "user_id"):
                out.setdefault(pid, []).append(f"{platform}:{user}")
        return out


class RoleGrant(Model):
    """角色授予。officer 限定于某个组织及其下级；member 记录所属组织；admin 全局。"""

    id = fields.IntField(primary_key=True)
    person = fields.ForeignKeyField("models.Person", related_name="roles")
    person_id: int  # the column tortoise adds, for type checkers
    role = fields.CharField(max_length=16)
    org = fields.ForeignKeyField(
        "models.Organization", related_name="role_grants", null=True, on_delete=fields.CASCADE
    )
    granted_by = fields.CharField(max_length=160, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "role_grant"
        unique_together = (("person", "role", "org"),)
        indexes = (
            ("org_id", "role"),  # the members of a subtree (#15)
            # …with who they are: 三会一课's members per branch read no row (#15)
            ("org_id", "role", "person_id"),
        )


class GroupBinding(Model):
    """群与组织的绑定：之后在该群内的命令默认属于这个组织。"""

    id = fields.IntField(primary_key=True)
    platform = fields.CharField(max_length=16)
    chat_id = fields.CharField(max_length=128)
    org = fields.ForeignKeyField("models.Organization", related_name="groups")
    org_id: int  # the column tortoise adds, for type checkers
    bound_by = fields.ForeignKeyField("models.Person", related_name="bindings", null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # "" a group of residents; WORK_GROUP the officers' work group (/绑定 SQ001 工作群),
    # the only kind of group officer notices go to.
    purpose = fields.CharField(max_length=16, default="", db_default="")

    class Meta:
        table = "group_binding"
        unique_together = (("platform", "chat_id"),)
        indexes = (("org_id",),)  # an organisation's groups (every notice, #15)

    @classmethod
    async def targets_of(cls, org_ids: Iterable[int]) -> dict[int, list[str]]:
        """Each organisation's residents' groups (never its officers' work groups) as push
        targets, in binding order; one query per `ID_CHUNK` organisations."""
        out: dict[int, list[str]] = {}
        for ids in chunked(org_ids):
            for b in await cls.filter(org_id__in=ids).exclude(purpose=WORK_GROUP).order_by("id"):
                out.setdefault(b.org_id, []).append(chat_target(b.platform, b.chat_id))
        return out


WORK_GROUP = "officers"


class _InTree(Protocol):
    id: int
    path: str


async def person_targets(*person_ids: int | None) -> list[str]:
    """Where to reach these people privately: each of their platform identities."""
    ids = [i for i in person_ids if i is not None]
    reach = await Identity.targets_of(ids)
    return [t for pid in dict.fromkeys(ids) for t in reach.get(pid, [])]


async def officer_targets_by_org(org_ids: Iterable[int]) -> dict[int, list[str]]:
    """`officer_targets` for many organisations at once (a job's whole batch): the same
    answer per organisation id, in a few queries per `ID_CHUNK` organisations."""
    chains: dict[int, list[int]] = {}
    for ids in chunked(org_ids):
        for oid, path in await Organization.filter(id__in=ids).values_list("id", "path"):
            chains[oid] = [int(i) for i in reversed(path.strip("/").split("/")) if i] or [oid]
    groups: dict[int, list[str]] = {}
    grants: dict[int, list[int]] = {}
    for ids in chunked({level for chain in chains.values() for level in chain}):
        for b in await GroupBinding.filter(org_id__in=ids, purpose=WORK_GROUP).order_by("id"):
            groups.setdefault(b.org_id, []).append(chat_target(b.platform, b.chat_id))
        officers = RoleGrant.filter(role="officer", org_id__in=ids).order_by("id")
        for oid, pid in await officers.values_list("org_id", "person_id"):
            grants.setdefault(oid, []).append(pid)
    reach = await Identity.targets_of(p for people in grants.values() for p in people)
    out: dict[int, list[str]] = {}
    for oid, chain in chains.items():
        level = next((lv for lv in chain if lv in groups or lv in grants), None)
        found = groups.get(level, []) + [t for p in grants.get(level, []) for t in reach.get(p, [])]
        out[oid] = list(dict.fromkeys(found))
    return out


async def officer_targets(*orgs: _InTree | None) -> list[str]:
    """Where a notice for the officers of these organisations goes, and nowhere else.

    An organisation's officers' work groups and its officers in private. An
    organisation with neither (a grid, a unit nobody was granted) hands the notice to
    the nearest one above it that has. A residents' group never hears it.
    """
    present = [o.id for o in orgs if o is not None]
    by_org = await officer_targets_by_org(present)
    return list(dict.fromkeys(t for oid in present for t in by_org.get(oid, [])))


async def resident_group_targets(*orgs: _InTree | None) -> list[str]:
    """The residents' groups bound to these organisations (public notices only)."""
    ids = [o.id for o in orgs if o is not None]
    groups = await GroupBinding.targets_of(ids)
    return list(dict.fromkeys(t for oid in ids for t in groups.get(oid, [])))
