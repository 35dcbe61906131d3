"""Shared by the activity model tests: the demo world, a fixed clock, and short helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from bot.demo import seed
from bot.identity import Caller, OrgView, RoleView
from models.activities import Activity, Signup
from models.errors import DomainError
from models.people import Organization, Person

# Wednesday 2026-11-18 10:00 Asia/Shanghai
T0 = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


def caller(*roles: tuple[str, Organization | None]) -> Caller:
    return Caller(
        "console",
        "x",
        "x",
        roles=tuple(RoleView(r, OrgView.of(o) if o else None) for r, o in roles),
    )


RESIDENT = caller()


@pytest.fixture
async def world(db):
    await seed()
    orgs = {o.code: o for o in await Organization.all()}
    people = {n: await Person.create(display_name=n) for n in ("书记", "甲", "乙", "丙", "丁")}
    return orgs, people


async def publish(orgs, people, now=T0, **kw) -> Activity:
    values = dict(
        title="志愿清扫",
        kind="volunteer",
        starts_at=now + 24 * H,
        ends_at=now + 26 * H,
        place="小区广场",
        capacity=2,
        audience="everyone",
        volunteer_hours="2",
    )
    values.update(kw)
    return await Activity.publish(orgs["SQ001"], people["书记"], now=now, **values)


async def refused(coro) -> DomainError:
    with pytest.raises(DomainError) as info:
        await coro
    return info.value


async def join(act: Activity, person: Person, who: Caller = RESIDENT, now=T0) -> Signup:
    async with in_transaction():
        return await act.join(person, who, now=now)
