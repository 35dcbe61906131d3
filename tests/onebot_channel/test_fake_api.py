"""The fake OneBot v11 HTTP API behind the outbound sender: sample requests, refusals, scripts."""

from __future__ import annotations

from tests.onebot_channel.tools import sample

# -- the fake OneBot HTTP API (for the outbound sender) --------------------------


async def test_fake_api_sample_requests(fake_api, aiohttp_client):
    requests = sample("api_requests")
    client = await aiohttp_client(fake_api.app)
    bearer = {"Authorization": requests["access_token_header"].split(": ", 1)[1]}
    for name, mid in (("send_private_msg", 1000), ("send_group_msg", 1001), ("send_msg", 1002)):
        req = requests[name]
        resp = await client.post(req["path"], json=req["body"], headers=bearer)
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "retcode": 0, "data": {"message_id": mid}}
    assert [d["message_type"] for d in fake_api.delivered] == ["private", "group", "group"]
    assert fake_api.delivered[1]["message"] == requests["send_group_msg"]["body"]["message"]
    assert fake_api.requests[0].params == requests["send_private_msg"]["body"]
    # Query-string token and GET parameters work too.
    resp = await client.get(
        "/send_private_msg" + requests["access_token_query"] + "&user_id=1&message=hi"
    )
    assert (await resp.json())["status"] == "ok"
    assert fake_api.delivered[-1] == {
        "message_type": "private",
        "user_id": 1,
        "message": "hi",
        "auto_escape": False,
    }


async def test_fake_api_refusals_and_scripts(fake_api, aiohttp_client):
    client = await aiohttp_client(fake_api.app)
    body = {"user_id": 1, "message": "hi"}
    good = {"Authorization": "Bearer kSLuTF2GC2Q4q4ugm3"}
    assert (await client.post("/send_private_msg", json=body)).status == 401
    bad = {"Authorization": "Bearer wrong"}
    assert (await client.post("/send_private_msg", json=body, headers=bad)).status == 403
    assert (await client.post("/no_such_action", json=body, headers=good)).status == 404
    resp = await client.post(
        "/send_private_msg", data=b"x", headers={**good, "Content-Type": "text/plain"}
    )
    assert resp.status == 406
    resp = await client.post(
        "/send_private_msg", data=b"{", headers={**good, "Content-Type": "application/json"}
    )
    assert resp.status == 400
    missing = await client.post("/send_group_msg", json={"message": "hi"}, headers=good)
    assert (await missing.json())["retcode"] == 100

    fake_api.fail_next(100, "bad")
    assert (await (await client.post("/send_msg", json=body, headers=good)).json())[
        "retcode"
    ] == 100
    fake_api.http_error_next(502)
    assert (await client.post("/send_msg", json=body, headers=good)).status == 502
    fake_api.delay_next(0.05)
    resp = await client.post("/send_msg", json=body, headers=good)
    assert (await resp.json())["status"] == "ok"
    resp = await client.post("/send_msg_async", json=body, headers=good)
    assert await resp.json() == {"status": "async", "retcode": 1, "data": None}
    assert len(fake_api.delivered) == 2
    assert len(fake_api.requests) == 10
