"""最后联系：登记、报到、离开、申请接转、看自己的信息都算联系上了（失联的依据）."""

from __future__ import annotations

from datetime import datetime

from models.grids.ladder import record_contact
from models.people import Person


async def touch(person: Person, now: datetime) -> None:
    """Remember that the person was in contact (the basis of 失联)."""
    await record_contact([person.id], now, "checkin")
    person.last_seen_at = now
