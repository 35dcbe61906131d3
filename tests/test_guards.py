"""/console and /metrics answer only direct loopback clients; bodies over the limit are
refused on their Content-Length (issue #11 items 7 and 9)."""

from __future__ import annotations

from bot.app import create_app
from tests.conftest import make_config


async def test_console_and_metrics_refuse_proxied_requests(client):
    body = {"user": "amy", "text": "/我"}
    assert (await client.post("/console", json=body)).status == 200
    assert (await client.get("/metrics")).status == 200
    for header in ({"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}):
        resp = await client.post("/console", json=body, headers=header)
        assert resp.status == 403 and await resp.text() == "local clients only"
        assert (await client.get("/metrics", headers=header)).status == 403
    # /healthz is for load balancers: it answers through a proxy.
    assert (await client.get("/healthz", headers={"X-Forwarded-For": "1.2.3.4"})).status == 200


async def test_forwarded_requests_allowed_when_configured(aiohttp_client, db_url):
    config = make_config(db_url, server={"trust_forwarded": True})
    client = await aiohttp_client(create_app(config))
    resp = await client.post(
        "/console", json={"user": "amy", "text": "/我"}, headers={"X-Forwarded-For": "10.0.0.2"}
    )
    assert resp.status == 200


async def test_a_body_over_the_limit_is_refused_and_counted(client):
    resp = await client.post("/console", data=b"x" * 100_000)  # server.max_body_bytes: 64 KiB
    assert resp.status == 413
    metrics = await (await client.get("/metrics")).text()
    assert 'platform="console",reason="too_large"} 1.0' in metrics
    assert (await client.post("/console", json={"user": "amy", "text": "/我"})).status == 200
