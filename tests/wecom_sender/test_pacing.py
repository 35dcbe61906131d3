"""WecomSender pacing: the per-robot-key leaky bucket and the app's platform rate limit."""

from __future__ import annotations

import asyncio
import time

from tests.wecom_sender.tools import ROBOT_KEY, make_config, make_sender

# -- pacing -------------------------------------------------------------------


async def test_robot_limit_lets_n_through_and_holds_the_rest(db, fake, session):
    n, period = 5, 2.0
    sender = make_sender(fake, session, robot_burst=n, robot_period=period)
    started = time.monotonic()

    tasks = [asyncio.create_task(sender.send_robot("notices", f"第{i}条")) for i in range(n + 5)]
    await asyncio.sleep(0.25)
    # A leaky bucket of n per `period`: n at once, then one every period/n seconds.
    assert len(fake.delivered) == n
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=period + 1.5)
    elapsed = time.monotonic() - started

    assert all(r.ok for r in results)
    assert len(fake.delivered) == n + 5  # none lost
    assert sorted(b.json["text"]["content"] for b in fake.delivered) == sorted(
        f"第{i}条" for i in range(n + 5)
    )
    arrivals = sorted(r.at - started for r in fake.delivered)
    assert arrivals[n - 1] < 0.25
    assert arrivals[n] >= period / n * 0.8  # the first held one waited for the bucket
    assert elapsed < period + 1.0  # the rest within the next period


async def test_default_robot_pace_never_exceeds_20_a_minute(db, fake, session):
    # The default bucket (10, then one per 6 s) against a fake that enforces 20/minute.
    fake.robot_limit = 20
    sender = make_sender(fake, session)
    limiter = sender._robot_limiter(ROBOT_KEY)
    assert (limiter.max_rate, limiter.time_period) == (10, 60.0)
    results = await asyncio.gather(*(sender.send_robot("notices", str(i)) for i in range(10)))
    assert all(r.ok for r in results)


async def test_robots_are_paced_per_key(db, fake, session):
    fake.robot_keys = {ROBOT_KEY, "second-key"}
    config = make_config(fake, robot_keys={"notices": ROBOT_KEY, "team": "second-key"})
    sender = make_sender(fake, session, config=config, robot_burst=2, robot_period=30.0)

    results = await asyncio.wait_for(
        asyncio.gather(
            sender.send_robot("notices", "a"),
            sender.send_robot("notices", "b"),
            sender.send_robot("team", "c"),
            sender.send_robot("team", "d"),
        ),
        timeout=1.0,
    )
    assert all(r.ok for r in results)


async def test_platform_rate_limit_still_sends(db, fake, session):
    sender = make_sender(fake, session, config=make_config(fake, rate_per_minute=600))
    results = await asyncio.gather(*(sender.send_text(f"u{i}", str(i)) for i in range(5)))
    assert all(r.ok for r in results)
    assert sender._limiter is not None and sender._limiter.max_rate == 600
