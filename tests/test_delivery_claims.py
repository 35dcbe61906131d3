"""A firing's rows claimed and marked a batch per statement (models/deliveries.py): each
row is claimed once, however many claimers run, and every row written back is sent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from models.deliveries import Delivery

NOW = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
FIRING = 7


async def rows_of(firing_id: int, n: int, status: str = "pending") -> list[int]:
    await Delivery.bulk_create(
        [
            Delivery(
                target=f"onebot-group:{firing_id}{i:04d}",
                platform="onebot",
                purpose="broadcast",
                dedup_key=f"bc:{firing_id}:{i}",
                text=f"通知 {i}",
                status=status,
                firing_id=firing_id,
            )
            for i in range(n)
        ]
    )
    return sorted(await Delivery.filter(firing_id=firing_id).values_list("id", flat=True))


async def test_claims_and_marks_go_through_a_firing_in_id_order_once(db):
    other = await rows_of(8, 5)  # another firing's pending rows: never touched
    ids = await rows_of(FIRING, 10)
    taken = await Delivery.take_pending(FIRING, 0, 3)
    assert [r[0] for r in taken] == ids[:3]
    assert taken[0][1:] == (f"onebot-group:{FIRING}0000", "通知 0")

    # The three are written back as sent and four more are claimed after the cursor.
    claimed = await Delivery.mark_sent_and_take(ids[:3], NOW, FIRING, ids[2], 4)
    assert claimed == [(i, f"onebot-group:{FIRING}{n:04d}", f"通知 {n}") for n, i in
                       list(enumerate(ids))[3:7]]  # fmt: skip
    # A claim from the start (another process's cursor) skips the rows taken.
    claimed = await Delivery.mark_sent_and_take(ids[3:7], NOW, FIRING, 0, 10)
    assert [r[0] for r in claimed] == ids[7:]
    assert await Delivery.mark_sent_and_take(ids[7:], NOW, FIRING, 0, 10) == []

    sent = (
        await Delivery.filter(firing_id=FIRING)
        .order_by("id")
        .values_list("status", "attempts", "finished_at")
    )
    assert sent == [("sent", 1, NOW)] * 10
    assert await Delivery.count_by_status(FIRING) == {
        "pending": 0, "sending": 0, "sent": 10, "failed": 0, "refused": 0, "unknown": 0,
    }  # fmt: skip
    assert await Delivery.filter(id__in=other, status="pending").count() == 5


async def test_rows_being_sent_are_marked_not_claimed_again(db):
    ids = await rows_of(FIRING, 6)
    first = await Delivery.take_pending(FIRING, 0, 2)
    second = await Delivery.take_pending(FIRING, 0, 2)  # another claimer, same cursor
    assert [r[0] for r in first + second] == ids[:4]
    # The first claimer writes its rows back while claiming: the second's rows (in
    # sending) are neither claimed nor marked by it.
    claimed = await Delivery.mark_sent_and_take([r[0] for r in first], NOW, FIRING, 0, 6)
    assert [r[0] for r in claimed] == ids[4:]
    status = dict(await Delivery.filter(firing_id=FIRING).values_list("id", "status"))
    assert [status[i] for i in ids] == ["sent", "sent", "sending", "sending", "sending",
                                        "sending"]  # fmt: skip


async def test_concurrent_claimers_take_every_row_once(db):
    """Eight claimers at once (on PostgreSQL over several connections, racing for the
    same rows from the same cursor): together they take each row exactly once, and no
    one's statement touches rows another holds."""
    ids = await rows_of(FIRING, 400)
    taken: list[int] = []
    touched = 0  # rows of a claimer that someone else changed while it held them

    async def claimer() -> None:
        mine: list[int] = []
        while True:
            rows = await Delivery.mark_sent_and_take(mine, NOW, FIRING, 0, 16) if mine else (
                await Delivery.take_pending(FIRING, 0, 16)
            )  # fmt: skip
            taken.extend(r[0] for r in rows)
            if not rows:
                return
            mine = [r[0] for r in rows]
            await asyncio.sleep(0)  # the others' statements run meanwhile
            nonlocal touched
            touched += await Delivery.filter(id__in=mine).exclude(status="sending").count()

    await asyncio.gather(*(claimer() for _ in range(8)))
    assert sorted(taken) == ids  # none twice, none left
    assert touched == 0
    assert await Delivery.filter(firing_id=FIRING, status="sent").count() == 400
