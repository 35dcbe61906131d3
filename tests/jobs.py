"""Fire a service's periodic job (``@router.every``) as production does, at a set time.

In production the broadcaster keeps one Broadcast row per job (``sync_jobs``) and its
tick fires every due row through ``Broadcaster.process``: the job says what is due, each
push becomes a Delivery of the firing, once by its key, and the firing sends them. Here
the runtime's clock is a ManualClock at `now` while the job's row is made due and fired
through that same ``process``; the runtime's own clock is put back afterwards.

Quiet hours are left out here (the row is fired as an urgent one): they are the
broadcaster's own rule, tested in test_broadcasts.py; in production a job due at night
runs when they end.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import ManualClock
from bot.registry import Job
from bot.runtime import Runtime
from models.broadcasts import Broadcast, BroadcastFiring
from models.deliveries import Delivery


async def fire_job(runtime: Runtime, job: Job | str, now: datetime) -> list[Delivery]:
    """Run `job` once at `now` through the broadcaster; the deliveries it made."""
    name = job if isinstance(job, str) else job.name
    broadcaster = runtime.broadcaster
    assert broadcaster is not None, "the runtime is not started"
    kept = runtime.clock
    runtime.clock = ManualClock(now)
    now = runtime.clock.now()  # to the second, as the clock keeps it
    try:
        await broadcaster.sync_jobs()
        row = await Broadcast.get(job=name)
        await Broadcast.filter(id=row.id).update(next_fire_at=now)  # due now, as a tick sees it
        await row.refresh_from_db()
        row.urgent = True  # at the time the test names, quiet hours or not (see above)
        last = await BroadcastFiring.filter(broadcast_id=row.id).order_by("-id").first()
        await broadcaster.process(row, now)
        firings = BroadcastFiring.filter(broadcast_id=row.id, id__gt=last.id if last else 0)
        ids = await firings.values_list("id", flat=True)
        return await Delivery.filter(firing_id__in=list(ids)).order_by("id")
    finally:
        runtime.clock = kept
