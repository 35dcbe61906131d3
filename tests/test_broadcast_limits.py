"""Officers' templates render within limits on time, output and memory (issue #11 item 6):
refused with a clear reply at /预览, /广播 and /定时, and skipped (not retried) at a fire."""

from __future__ import annotations

import pytest

from models.broadcasts import Broadcast, BroadcastFiring
from tests.conftest import make_config
from tests.test_broadcasts import at, cst, sent_to, town  # noqa: F401 - the fixture

BOMB = "{{ ('x' * 1000000000)|length }}"
# Three nested loops: billions of steps, past any time limit on any machine.
LOOPS = (
    "{% for a in range(4000) %}{% for b in range(4000) %}{% for c in range(4000) %}"
    "{% endfor %}{% endfor %}{% endfor %}完"
)
WIDE = "{% for a in range(3000) %}第{{ a }}行{% endfor %}"


@pytest.fixture
def config(db_url: str):
    return make_config(db_url, broadcasts={"render_timeout_seconds": 0.5, "render_max_chars": 5000})


async def test_templates_over_the_limits_are_refused_with_the_reason(town):  # noqa: F811
    c = town
    memory = await c.one(f"/预览 {BOMB}", user="secretary")
    assert (
        memory
        == "这段内容渲染时需要的内存超过了 256 MB，已拒绝。请去掉大循环或重复，写成普通文字再试。"
    )
    slow = await c.one(f"/预览 {LOOPS}", user="secretary")
    assert slow.startswith("这段内容渲染时超过了 0.5 秒，已拒绝。")
    wide = await c.one(f"/定时 每天 08:00 {WIDE}", user="secretary", group="g1")
    assert wide.startswith("这段内容渲染时超过了 5000 字，已拒绝。")
    assert (await c.one(f"/广播 明天 09:00 {BOMB}", user="secretary", group="g1")).startswith(
        "这段内容渲染时需要的内存超过了"
    )
    assert await Broadcast.filter(job=None).count() == 0
    # The renderer that was stopped for taking too long is replaced for the next one.
    preview = await c.one("/预览 今天是{{星期}}", user="secretary")
    assert preview == "预览（只有您能看到）：\n今天是星期日"


async def test_a_template_over_the_limits_at_fire_time_is_skipped(town):  # noqa: F811
    c = town
    for text in ("早上好{{星期}}", "午安"):
        assert (await c.one(f"/定时 每天 08:00 {text}", user="secretary", group="g1")).startswith(
            "已安排广播 #"
        )
    bad = await Broadcast.filter(job=None).order_by("id").first()
    await Broadcast.filter(id=bad.id).update(content=LOOPS)  # e.g. written by an older version
    assert await at(c, cst(2026, 11, 23, 8, 0)) == 1
    assert await sent_to("console:g1") == ["午安"]
    firing = await BroadcastFiring.get(broadcast_id=bad.id)
    assert firing.status == "skipped" and firing.reason == "template: time limit 0.5"
    # Skipped, not retried at every tick: the next fire time is tomorrow's.
    await bad.refresh_from_db()
    assert bad.next_fire_at == cst(2026, 11, 24, 8, 0)
