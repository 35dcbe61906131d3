"""候补递补要确认：递补的人在期限内 `/确认参加 编号`，否则名额让给下一位。

A promoted sign-up is ``offered``: it holds the seat (counted in ``confirmed_count``)
until ``offer_expires_at``. `confirm_offer` turns it into ``confirmed`` by a conditional
UPDATE; `expire_offers` (a periodic job) cancels the lapsed ones under the activity's
row lock and promotes the next in line, who gets the same kind of offer.
"""

from __future__ import annotations

from datetime import datetime

from models.activities import Activity, Signup
from models.activities.rules import is_late_cancel, offer_deadline
from models.errors import DomainError

CONFIRM_HOURS = 12.0
LATE_CANCEL_HOURS = 2.0
__all__ = ["confirm_offer", "expire_offers", "is_late_cancel", "offer_deadline"]


async def confirm_offer(act: Activity, person_id: int | None, *, now: datetime) -> Signup:
    """确认参加：只对递补给自己、还在期限内的名额 (under the activity's row lock)."""
    await act.lock()
    if person_id is None:
        raise DomainError("act_no_offer", number=act.id)
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
        await act.lock()
        won = await Signup.filter(id=s.id, status="offered", offer_expires_at__lte=now).update(
            status="cancelled", active_key=None, cancelled_at=now, updated_at=now
        )
        if won != 1:
            continue
        s.status = "cancelled"
        lapsed.append(s)
        await act.free_seat()
        if act.status == "open" and now < act.starts_at:
            offered += await act.promote(now, window_hours)
    return lapsed, offered
