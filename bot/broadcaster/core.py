"""定时推送的执行：谁来触发（选主）、何时触发（免打扰、宽限期）、发给谁、只发一次。

How a fire time becomes messages, exactly once:

1. **Claim and plan, in one transaction.** The due `Broadcast` row's
   `next_fire_at` is moved on by a conditional UPDATE (the claim: one winner
   even if two processes try), a `BroadcastFiring` row is written, and a
   pending `Delivery` row per target with a unique key
   (``bc:<id>:<fire time>:<target>``). A crash before the commit leaves
   nothing; after it, everything to send is on disk.
2. **Send.** Pending rows are taken a batch at a time by an
   ``UPDATE … SET status='sending' … RETURNING`` and finished as sent / failed.
3. **Restart.** The next leader first turns rows left in ``sending`` into
   ``unknown`` (they were on the wire when the process died; sending them again
   could post twice, so they are counted as uncertain and shown to officers),
   then sends every row still ``pending``.

Fire times missed while the service was down are sent if still within the
grace period and otherwise recorded as skipped. Quiet hours move non-urgent
fire times to the end of the quiet period. Services' periodic jobs
(`@router.every`) run through the same path: a `Broadcast` row per job, whose
pushes carry their own keys.

Only the leader fires (bot/leader.py): with PostgreSQL, the holder of an
advisory lock; with SQLite, the one process.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import DBConnectionError, OperationalError
from tortoise.transactions import in_transaction

from bot.broadcaster.audience import Audience
from bot.broadcaster.content import Content, ContentError, load_lessons
from bot.broadcaster.fanout import Fanout
from bot.leader import Leadership, make_leadership
from bot.outbound import Push
from bot.schedule import QuietHours, next_fire
from bot.template_worker import TemplateWorker
from models.broadcasts import Broadcast, BroadcastFiring
from models.deliveries import Delivery

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger("lianxin.broadcast")

MISSED_RECORD_LIMIT = 200


class Broadcaster(Audience, Fanout):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        cfg = runtime.config.broadcasts
        self.tz = runtime.config.bot.timezone
        self.quiet = QuietHours.parse(cfg.quiet_start, cfg.quiet_end, self.tz)
        self.grace = timedelta(minutes=cfg.grace_minutes)
        self.batch = cfg.fanout_concurrency
        self.content = Content(
            TemplateWorker(cfg.render_timeout_seconds, cfg.render_max_chars, cfg.render_memory_mb)
        )
        self.lessons = load_lessons(cfg.lessons_dir)
        self.leadership: Leadership = make_leadership(runtime.config.database.url)
        self.scheduler: Any = None
        self._loop_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one tick at a time in this process
        self._stopping = False
        self._broken_off: set[int] = set()  # firings whose sending raised (Fanout.resume)

    # -- clock and leadership ---------------------------------------------------
    def now(self) -> datetime:
        return self.runtime.clock.now()

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    async def start(self, scheduler: Any = None) -> None:
        """Make sure each service job has its row, then campaign for leadership."""
        self.scheduler = scheduler
        await self.sync_jobs()
        cfg = self.runtime.config.broadcasts
        if cfg.leader_poll_seconds > 0:
            self._loop_task = asyncio.create_task(self._campaign(cfg.leader_poll_seconds))

    async def stop(self, timeout: float = 10.0) -> None:
        """Let a fan-out in progress reach a clean point (a batch's rows written), for at
        most ``timeout`` seconds; then leadership goes either way (unsent rows stay due
        and the next leader sends them, once)."""
        self._stopping = True
        if self._loop_task is not None:
            task = self._loop_task
            self._loop_task = None
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        try:
            # A free lock is taken without waiting, even when no time is left.
            async with asyncio.timeout(timeout), self._lock:
                pass
        except TimeoutError:
            log.warning("stopping while a tick is still running")
        await self.leadership.release()
        await self.content.worker.close()

    async def _campaign(self, every: float) -> None:
        while not self._stopping:
            try:
                await self.elect()
            except Exception:
                log.exception("leader election round failed")
            await asyncio.sleep(every)

    async def elect(self) -> bool:
        """One round: become, stay or stop being the leader; a new leader recovers first."""
        was = self.is_leader
        now_leader = await self.leadership.campaign()
        if now_leader and not was:
            log.info("became the broadcast leader")
            # After a tick this process may still be finishing (it lost the lead mid-
            # firing): its rows on the wire are written back before recovery reads them.
            async with self._lock:
                await self.recover()
            self._rebuild_jobs_soon()
        elif was and not now_leader:
            log.warning("lost broadcast leadership")
            self._drop_jobs()
        return now_leader

    # -- apscheduler: timers only, the rows are the truth --------------------------
    def _rebuild_jobs_soon(self) -> None:
        if self.scheduler is None:
            return
        cfg = self.runtime.config.broadcasts
        if cfg.tick_seconds > 0:
            self.scheduler.add_job(
                self.tick,
                "interval",
                seconds=cfg.tick_seconds,
                id="broadcasts.tick",
                replace_existing=True,
            )
        self.runtime.spawn(self._rebuild_jobs(), "broadcast jobs")

    async def _rebuild_jobs(self) -> None:
        for b in await Broadcast.filter(status="active", next_fire_at__not_isnull=True):
            self.schedule(b)

    def schedule(self, b: Broadcast) -> None:
        """A timer at the broadcast's next (quiet-hours adjusted) fire time, if leader."""
        if self.scheduler is None or not self.is_leader or b.next_fire_at is None:
            return
        if self.runtime.config.broadcasts.tick_seconds <= 0:
            return  # timers off: whoever runs us calls tick() (tests, with a ManualClock)
        when = self.effective(b, b.next_fire_at)
        self.scheduler.add_job(
            self.tick,
            "date",
            run_date=when,
            id=f"broadcast:{b.id}",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _drop_jobs(self) -> None:
        if self.scheduler is None:
            return
        for job in self.scheduler.get_jobs():
            if job.id.startswith("broadcast"):
                job.remove()

    # -- service jobs become Broadcast rows -----------------------------------------
    async def sync_jobs(self) -> None:
        """One row per `@router.every` job; its period follows the config."""
        now = self.now()
        for job in self.runtime.registry.jobs:
            rule = f"every:{int(job.seconds(self.runtime.config))}"
            row = await Broadcast.filter(job=job.name).first()
            if row is None:
                try:
                    await Broadcast.create(
                        job=job.name, rule=rule, rule_text=rule, audience="job",
                        audience_ref=job.name, next_fire_at=now,
                    )  # fmt: skip
                except Exception:  # another process created it at the same moment
                    log.debug("job row %s exists", job.name)
            elif row.rule != rule or row.status != "active":
                await Broadcast.filter(id=row.id).update(
                    rule=rule, rule_text=rule, status="active", next_fire_at=now
                )

    # -- firing --------------------------------------------------------------------
    def effective(self, b: Broadcast, nominal: datetime) -> datetime:
        return nominal if b.urgent else self.quiet.release(nominal)

    async def tick(self) -> int:
        """Fire whatever is due now (leader only). Returns the firings that sent."""
        if not self.is_leader or self._stopping:
            return 0
        async with self._lock:
            try:
                await self.resume()
                return await self.fire_due(self.now())
            except (OSError, DBConnectionError, OperationalError) as exc:
                # The database is away (/healthz says so); the next tick tries again.
                log.warning("broadcast tick skipped, database unavailable: %s", exc)
                return 0

    async def fire_due(self, now: datetime) -> int:
        fired = 0
        due = await Broadcast.filter(status="active", next_fire_at__lte=now).order_by(
            "next_fire_at", "id"
        )
        for b in due:
            try:
                if await self.process(b, now):
                    fired += 1
            except Exception:
                log.exception("broadcast %s failed to fire", b.id)
            self.schedule(b)
        return fired

    async def process(self, b: Broadcast, now: datetime) -> bool:
        """Handle every fire time of `b` that is due by `now`; True if something was sent."""
        claimed_at = b.next_fire_at
        assert claimed_at is not None
        missed: list[datetime] = []
        t: datetime | None = claimed_at
        while t is not None and self.effective(b, t) <= now:
            missed.append(t)
            t = next_fire(b.rule, t, self.tz)
            if len(missed) >= MISSED_RECORD_LIMIT:
                t = next_fire(b.rule, now, self.tz) if t is not None else None
                break
        if not missed:
            return False  # postponed by quiet hours
        latest = missed[-1]
        started = self.effective(b, latest)
        # Jobs read the current state when they run, so a late run is still right.
        late = b.job is None and now - started > self.grace
        pushes: list[Push] = []
        refused = ""  # the text cannot be rendered within the limits: skipped, not retried
        if not late:
            try:
                pushes = await self.plan(b, latest, now)
            except ContentError as exc:
                refused = f"template: {exc}"[:255]
                log.warning("broadcast %s fire time %s skipped: %s", b.id, latest, exc)
        async with in_transaction():
            if not await b.claim(claimed_at, t):
                return False
            if b.job is None:
                for m in missed[:-1]:
                    await BroadcastFiring.create(
                        broadcast=b, fire_at=m, status="skipped", reason="missed",
                        finished_at=now,
                    )  # fmt: skip
            if late:
                await BroadcastFiring.create(
                    broadcast=b, fire_at=latest, status="skipped", reason="missed",
                    finished_at=now,
                )  # fmt: skip
                log.warning(
                    "broadcast %s fire time %s skipped: past the grace period", b.id, latest
                )
                return False
            if refused:
                await BroadcastFiring.create(
                    broadcast=b, fire_at=latest, status="skipped", reason=refused,
                    finished_at=now,
                )  # fmt: skip
                return False
            if not pushes:
                if b.job is None:
                    await BroadcastFiring.create(
                        broadcast=b, fire_at=latest, status="done", reason="no_targets",
                        started_at=now, finished_at=now, superseded=len(missed) - 1,
                    )  # fmt: skip
                return False
            firing = await BroadcastFiring.create(
                broadcast=b, fire_at=latest, status="sending", started_at=now,
                superseded=len(missed) - 1 if b.job is None else 0,
            )  # fmt: skip
            firing.targets = await self._write_pending(firing.id, pushes)
            await BroadcastFiring.filter(id=firing.id).update(targets=firing.targets)
        await self.send_firing(firing)
        return True

    async def plan(self, b: Broadcast, fire_at: datetime, now: datetime) -> list[Push]:
        """Who gets what for this fire time (read before the claim's transaction)."""
        if b.job is not None:
            job = next((j for j in self.runtime.registry.jobs if j.name == b.job), None)
            if job is None:
                return []
            pushes = list(await job.func(self.runtime, now))
            # Already delivered earlier: not planned again (the unique key also says so).
            keys = [p.key[:191] for p in pushes]
            done = set()
            for i in range(0, len(keys), 500):
                done |= set(
                    await Delivery.filter(dedup_key__in=keys[i : i + 500]).values_list(
                        "dedup_key", flat=True
                    )
                )
            return [p for p in pushes if p.key[:191] not in done]
        stamp = int(fire_at.timestamp())
        pushes = []
        texts: dict[int | None, str] = {}  # one rendering per organisation
        for target, org in await self.audience(b):
            key = org.id if org else None
            if key not in texts:
                texts[key] = await self.text_for(b, org, now)
            pushes.append(Push(target, texts[key], f"bc:{b.id}:{stamp}:{target}", "broadcast"))
        return pushes
