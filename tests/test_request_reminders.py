"""办理时限提醒在区级规模下（#15）：提醒过的诉求不再被读出来，但一条也不漏、不重发。"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import RUNTIME
from models.deliveries import Delivery
from models.requests import ServiceRequest
from models.requests.reminders import candidates
from tests.conftest import grant_officer
from tests.jobs import fire_job
from tests.test_requests_chat import number_in


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001 (secretary), gbm to BM01 (kezhang), the street officer jd."""
    await grant_officer("kezhang", "BM01")
    await grant_officer("jd", "JD01")
    await console.one("/绑定 SQ001", user="secretary", group="g1")
    await console.one("/绑定 BM01", user="kezhang", group="gbm")
    return console


def deadline_job(client):
    rt = client.server.app[RUNTIME]
    return rt, next(j for j in rt.registry.jobs if j.name == "requests.deadline_reminders")


async def open_candidates(now) -> list[str]:
    return [r.number for r in await candidates(now, 12)]


async def test_a_second_tick_sends_nothing_and_reads_nothing(town, client):
    c = town
    no = number_in(await c.one("/诉求 水管漏水", user="bob", group="g1"))
    req = await ServiceRequest.get(number=no)
    rt, job = deadline_job(client)
    soon = req.due_at - timedelta(hours=2)
    (sent,) = await fire_job(rt, job, soon)
    assert sent.dedup_key.startswith(f"req:{no}:due_soon:")
    # the next tick finds every key written: it marks the request and sends nothing
    assert await fire_job(rt, job, soon + timedelta(minutes=15)) == []
    assert (await ServiceRequest.get(number=no)).reminded == "due_soon"
    # from then on the tick does not even read it, until it is overdue
    assert await open_candidates(soon + timedelta(minutes=30)) == []
    late = req.due_at + timedelta(minutes=1)
    assert await open_candidates(late) == [no]
    sent = await fire_job(rt, job, late)
    assert sorted(d.purpose for d in sent) == ["request_due", "request_escalate"]
    assert await fire_job(rt, job, late + timedelta(minutes=15)) == []
    assert await open_candidates(late + timedelta(days=3)) == []
    assert await Delivery.filter(purpose__in=("request_due", "request_escalate")).count() == 3


async def test_planned_but_never_written_is_planned_again(town, client):
    """A tick whose deliveries were never written (crash, database away) is not lost."""
    c = town
    no = number_in(await c.one("/诉求 水管漏水", user="bob", group="g1"))
    req = await ServiceRequest.get(number=no)
    rt, job = deadline_job(client)
    late = req.due_at + timedelta(hours=1)
    planned = await job.func(rt, late)  # asked, never sent
    assert planned and (await ServiceRequest.get(number=no)).reminded == ""
    sent = await fire_job(rt, job, late + timedelta(minutes=15))
    assert sorted(d.dedup_key for d in sent) == sorted(p.key for p in planned)
    assert await fire_job(rt, job, late + timedelta(minutes=30)) == []


async def test_a_new_holder_is_a_new_due_point(town, client):
    """Forwarded after the reminder: the unit it went to is reminded too (once)."""
    c = town
    no = number_in(await c.one("/诉求 水管漏水", user="bob", group="g1"))
    await c.one(f"/接单 {no}", user="secretary", group="g1")
    req = await ServiceRequest.get(number=no)
    rt, job = deadline_job(client)
    soon = req.due_at - timedelta(hours=2)
    first = await fire_job(rt, job, soon)
    assert await fire_job(rt, job, soon + timedelta(minutes=5)) == []
    await c.one(f"/转单 {no} BM01 需要城管配合", user="secretary", group="g1")
    assert (await ServiceRequest.get(number=no)).reminded == ""
    second = await fire_job(rt, job, soon + timedelta(minutes=10))
    assert second and {d.target for d in second}.isdisjoint({d.target for d in first})
    assert await fire_job(rt, job, soon + timedelta(minutes=15)) == []
    assert await fire_job(rt, job, soon + timedelta(minutes=20)) == []
