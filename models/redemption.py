"""兑换目录与核销码：党务工作者上架物品（按小时或积分标价，可限库存），成员用自己的
时间银行余额或积分兑换，拿到一次性的 6 位核销码（30 天有效），由党务工作者或合作商家核销。

Never overdrawn under concurrency, on SQLite and PostgreSQL alike:
* stock: ``UPDATE catalogue_item SET stock = stock - 1 WHERE id = ? AND stock > 0``
  (one row: a unit is taken; none: sold out), unlimited stock is NULL;
* balance: the member's row is locked first (``SELECT … FOR UPDATE``; SQLite write
  transactions begin IMMEDIATE), then the SUM of the ledger is checked, as
  `TimeBankEntry.redeem` does. A refusal rolls the stock back with the transaction.
* codes: unique while they exist; single use by a conditional UPDATE.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.models import Model
from tortoise.transactions import in_transaction

from bot.text import fold_width
from models.activities import (
    PointsEntry,
    TimeBankEntry,
    ancestor_paths,
    balance,
    parse_hours,
    points_of,
)
from models.claims import member_org
from models.errors import DomainError
from models.people import Organization, Person

VALID_DAYS = 30
NAME_MAX = 100
PRICE_RE = re.compile(r"^(\d+(?:\.\d)?)\s*(小时|h|积分|分)$", re.IGNORECASE)


def parse_price(text: str) -> tuple[Decimal | None, int | None]:
    """ "2小时" → (2.0 hours, None); "50积分" / "50分" → (None, 50 points)."""
    m = PRICE_RE.match(fold_width(text or "").strip())
    if m is None:
        raise DomainError("catalogue_bad_price", price=text)
    amount, unit = m.group(1), m.group(2).lower()
    if unit in ("小时", "h"):
        hours = parse_hours(amount)
        if hours <= 0:
            raise DomainError("catalogue_bad_price", price=text)
        return hours, None
    if "." in amount or not 0 < int(amount) <= 100000:
        raise DomainError("catalogue_bad_price", price=text)
    return None, int(amount)


def parse_stock(text: str | None) -> int | None:
    if text is None or not text.strip():
        return None
    t = fold_width(text).strip().removesuffix("件").removesuffix("份")
    if not t.isdigit() or not 0 < int(t) <= 100000:
        raise DomainError("catalogue_bad_stock", stock=text)
    return int(t)


class CatalogueItem(Model):
    """兑换目录里的一项：一个组织上架，标价小时或积分（二选一），库存为空表示不限。"""

    id = fields.IntField(primary_key=True)
    org = fields.ForeignKeyField(
        "models.Organization", related_name="catalogue", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=NAME_MAX)
    hours = fields.DecimalField(max_digits=6, decimal_places=1, null=True)
    points = fields.IntField(null=True)
    stock = fields.IntField(null=True)
    status = fields.CharField(max_length=16, default="active")  # active / removed
    created_by = fields.ForeignKeyField(
        "models.Person", related_name="catalogue_items", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "catalogue_item"
        indexes = (("org_id", "status"),)

    @classmethod
    async def shelve(
        cls,
        org: Organization,
        name: str,
        price: str,
        stock: str | None,
        by: Person,
        *,
        now: datetime,
    ) -> CatalogueItem:
        """上架：同一组织同名的在架物品只有一个。"""
        name = name.strip()
        if not 1 <= len(name) <= NAME_MAX:
            raise DomainError("catalogue_bad_name", limit=NAME_MAX)
        hours, points = parse_price(price)
        if await cls.filter(org_id=org.id, name=name, status="active").exists():
            raise DomainError("catalogue_exists", name=name)
        return await cls.create(
            org=org,
            name=name,
            hours=hours,
            points=points,
            stock=parse_stock(stock),
            created_by=by,
            created_at=now,
        )

    @staticmethod
    async def paths_for(caller: Any, bound: Any | None) -> list[str]:
        """Whose catalogue someone sees: the bound group's organisation (`bound`, Ctx.org),
        else the ones they are an officer of and their own."""
        if bound is not None:
            return [bound.path]
        paths = [o.path for o in caller.officer_orgs()]
        if caller.person_id is not None:
            org = await member_org(caller.person_id)
            if org is not None:
                paths.append(org.path)
        return paths

    @classmethod
    async def visible(cls, paths: list[str]) -> list[CatalogueItem]:
        """The items on offer to someone in these organisations (theirs and those above)."""
        scope = {p for path in paths for p in ancestor_paths(path)}
        return (
            await cls.filter(status="active", org__path__in=sorted(scope))
            .select_related("org")
            .order_by("org__path", "id")
        )

    @classmethod
    async def find(cls, name: str, paths: list[str]) -> CatalogueItem:
        name = name.strip()
        items = [i for i in await cls.visible(paths) if i.name == name or str(i.id) == name]
        if not items:
            raise DomainError("catalogue_unknown", name=name)
        return items[-1]  # the nearest organisation's offer

    def check_officer(self, caller: Any) -> None:
        if not caller.is_officer_of(self.org):
            raise DomainError("catalogue_not_your_scope", name=self.name, org_name=self.org.name)

    async def remove(self) -> None:
        """下架：已发出的核销码照样有效。"""
        if not await CatalogueItem.filter(id=self.id, status="active").update(status="removed"):
            raise DomainError("catalogue_unknown", name=self.name)

    async def redeem(
        self, person: Person, *, now: datetime, valid_days: int = VALID_DAYS
    ) -> Redemption:
        """成员用自己的余额兑换一件：扣库存、扣余额（不许透支）、发一次性核销码。
        Call inside a transaction: a refusal after the stock was taken rolls it back."""
        await Person.filter(id=person.id).select_for_update().first()
        if self.stock is not None:
            taken = await CatalogueItem.filter(id=self.id, status="active", stock__gt=0).update(
                stock=F("stock") - 1
            )
            if taken != 1:
                raise DomainError("catalogue_out_of_stock", name=self.name)
        if self.hours is not None:
            have = await balance(person.id)
            if have < self.hours:
                raise DomainError(
                    "timebank_insufficient", name=person.name, balance=have, hours=self.hours
                )
        else:
            have_points = (await points_of(person.id))["total"]
            if have_points < (self.points or 0):
                raise DomainError(
                    "points_insufficient", balance=have_points, points=self.points, name=self.name
                )
        red = await Redemption.issue(self, person, now, valid_days)
        if self.hours is not None:
            await TimeBankEntry.create(
                person_id=person.id,
                org_id=self.org_id,
                hours=-self.hours,
                kind="redeem",
                item=self.name,
                ref=f"red:{red.id}",
                created_at=now,
            )
        else:
            await PointsEntry.create(
                person_id=person.id,
                org_id=self.org_id,
                kind="redeem",
                points=-(self.points or 0),
                ref=f"red:{red.id}",
                reason=self.name,
                created_at=now,
            )
        return red


class Redemption(Model):
    """一次兑换：核销码 6 位数字、一次有效、30 天内；核销时记下谁核销的。"""

    id = fields.IntField(primary_key=True)
    item = fields.ForeignKeyField(
        "models.CatalogueItem", related_name="redemptions", on_delete=fields.RESTRICT
    )
    person = fields.ForeignKeyField(
        "models.Person", related_name="redemptions", on_delete=fields.CASCADE
    )
    code = fields.CharField(max_length=6, unique=True)
    hours = fields.DecimalField(max_digits=6, decimal_places=1, null=True)
    points = fields.IntField(null=True)
    status = fields.CharField(max_length=16, default="issued")  # issued / used
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by = fields.ForeignKeyField(
        "models.Person", related_name="redemptions_used", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "redemption"

    @classmethod
    async def issue(
        cls, item: CatalogueItem, person: Person, now: datetime, valid_days: int
    ) -> Redemption:
        """A fresh random 6-digit code (a collision with an existing code tries again)."""
        for _ in range(20):
            code = f"{secrets.randbelow(10**6):06d}"
            try:
                async with in_transaction():  # a savepoint: a collision undoes only this
                    return await cls.create(
                        item=item,
                        person=person,
                        code=code,
                        hours=item.hours,
                        points=item.points,
                        created_at=now,
                        expires_at=now + timedelta(days=valid_days),
                    )
            except IntegrityError:
                continue
        raise DomainError("catalogue_no_code")

    @classmethod
    async def by_code(cls, code: str) -> Redemption:
        typed = fold_width(code or "").strip()
        red = (
            await cls.filter(code=typed).select_related("item__org", "person").first()
            if re.fullmatch(r"\d{6}", typed)
            else None
        )
        if red is None:
            raise DomainError("redemption_unknown", number=typed)
        return red

    def check_verifier(self, caller: Any) -> None:
        """The item's organisation (or above), or a partner merchant (an officer of a
        partner organisation under the same parent as the item's organisation)."""
        org = self.item.org
        if caller.is_officer_of(org):
            return
        parent = org.path.rsplit("/", 2)[0] + "/"
        if any(o.kind == "partner" and o.path.startswith(parent) for o in caller.officer_orgs()):
            return
        raise DomainError("redemption_not_your_scope", number=self.code)

    async def use(self, by: Person, *, now: datetime) -> Redemption:
        """核销：只一次、在有效期内。"""
        won = await Redemption.filter(id=self.id, status="issued", expires_at__gt=now).update(
            status="used", used_at=now, used_by_id=by.id
        )
        if won != 1:
            fresh = await Redemption.get(id=self.id)
            if fresh.status == "used":
                raise DomainError("redemption_used", number=self.code, at=fresh.used_at)
            raise DomainError("redemption_expired", number=self.code, at=fresh.expires_at)
        self.status, self.used_at = "used", now
        return self
