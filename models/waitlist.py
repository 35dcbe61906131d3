"""候补递补要确认：递补的人在期限内 `/确认参加 编号`，否则名额让给下一位。

A promoted sign-up is ``offered``: it holds the seat (counted in ``confirmed_count``)
until ``offer_expires_at``. `confirm_offer` turns it into ``confirmed`` by a conditional
UPDATE; `expire_offers` (a periodic job) cancels the lapsed ones under the activity's
row lock and promotes the next in line, who gets the same kind of offer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from models.activities import Activity, Signup
from models.errors import DomainError
from models.requests import utcnow

CONFIRM_HOURS = 12.0
LATE_CANCEL_HOURS = 2.0


def offer_deadline(now: datetime, starts_at: datetime, window_hours: float) -> datetime:
    """By when a promoted person must confirm: the window, but never more than half of
    the time left before the start (a seat offered an hour before passes on quickly)."""
    window = timedelta(hours=window_hours)
    left = starts_at - now
    if left <= timedelta(0):
        return now
    return now + min(window, left / 2)


def is_late_cancel(now: datetime, starts_at: datetime, late_hours: float) -> bool:
    """Cancelling this close to the start counts as absence in the attendance figures."""
    return starts_at - now < timedelta(hours=late_hours)


async def confirm_offer(act: Activity, person_id: int, *, now: datetime | None = None) -> Signup:
    """确认参加：只对递补给自己、还在期限内的名额。"""
    now = now or utcnow()
    mine = await Signup.filter(activity_id=act.id, person_id=person_id, status="offered").first()
    if mine is None:
        raise DomainError("act_no_offer", number=act.id)
    won = await Signup.filter(id=mine.id, status="offered", offer_expires_at__gt=now).update(
        status="confirmed", updated_at=now
    )
    if won != 1:
        raise DomainError("act_offer_expired", number=act.id, at=mine.offer_expires_at)
    mine.status = "confirmed"
    return mine


async def expire_offers(
    now: datetime, window_hours: float = CONFIRM_HOURS
) -> tuple[list[Signup], list[Signup]]:
    """Lapsed offers give their seat to the next on the waitlist.
    Returns (lapsed, newly offered). Call inside a transaction."""
    lapsed: list[Signup] = []
    offered: list[Signup] = []
    due = await Signup.filter(status="offered", offer_expires_at__lte=now).select_related(
        "activity"
    )
    for s in due:
        act = s.activity
        await act._locked()
        won = await Signup.filter(id=s.id, status="offered", offer_expires_at__lte=now).update(
            status="cancelled", active_key=None, cancelled_at=now, updated_at=now
        )
        if won != 1:
            continue
        s.status = "cancelled"
        lapsed.append(s)
        await act._free_seat()
        if act.status == "open" and now < act.starts_at:
            offered += await act._promote(now, window_hours)
    return lapsed, offered
