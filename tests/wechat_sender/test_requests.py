"""WechatSender request shape for text and template messages, and the fake WeChat API on its own."""

from __future__ import annotations

from bot.senders.base import SendResult
from tests.fakes.wechat_api import FakeWechatAPI
from tests.wechat_sender.tools import APPID, OPENID, SECRET, make_sender

# -- success and request shape ----------------------------------------------


async def test_send_text_exact_request(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    text = "你好，欢迎来到连心社区！\n回复「活动」查看本周安排 🎉"

    result = await sender.send_text(OPENID, text)

    assert result == SendResult(ok=True, attempts=1)
    assert sender.platform == "wechat"
    [fetch] = fake.token_fetches
    assert fetch.json == {
        "grant_type": "client_credential",
        "appid": APPID,
        "secret": SECRET,
        "force_refresh": False,
    }
    [send] = fake.sends
    assert send.method == "POST"
    assert send.path == "/cgi-bin/message/custom/send"
    assert send.query == {"access_token": "TOKEN-1"}
    assert send.json == {"touser": OPENID, "msgtype": "text", "text": {"content": text}}
    # UTF-8 on the wire, not \uXXXX escapes (WeChat would show those literally).
    assert "你好，欢迎来到连心社区".encode() in send.body
    assert b"\\u" not in send.body
    assert send.headers["Content-Type"].startswith("application/json")
    assert fake.delivered == [send.json]


async def test_send_template_request(sqlite_db, fake, session):
    sender = make_sender(fake, session)

    result = await sender.send_template(
        OPENID,
        "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        {"keyword1": "巧克力", "keyword2": {"value": "39.8元", "color": "#173177"}},
        url="http://weixin.qq.com/download",
    )

    assert result.ok and result.attempts == 1
    [send] = fake.sends
    assert send.path == "/cgi-bin/message/template/send"
    assert send.query == {"access_token": "TOKEN-1"}
    body = dict(send.json)
    client_msg_id = body.pop("client_msg_id")
    assert body == {
        "touser": OPENID,
        "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
        "url": "http://weixin.qq.com/download",
        "data": {
            "keyword1": {"value": "巧克力"},
            "keyword2": {"value": "39.8元", "color": "#173177"},
        },
    }
    # Generated so that a retry after a timeout is deduplicated by WeChat.
    assert isinstance(client_msg_id, str) and len(client_msg_id) == 32
    assert "巧克力".encode() in send.body


async def test_template_retries_keep_client_msg_id(sqlite_db, fake, session):
    sender = make_sender(fake, session)
    fake.fail_next(-1)

    result = await sender.send_template(OPENID, "TPL", {"k": "v"}, client_msg_id="MSG_000001")

    assert result.ok and result.attempts == 2
    assert [s.json["client_msg_id"] for s in fake.sends] == ["MSG_000001", "MSG_000001"]


async def test_template_to_non_follower_is_permanent(sqlite_db, fake, session):
    fake.subscribers = {"o-follower"}
    sender = make_sender(fake, session)

    result = await sender.send_template("o-stranger", "TPL", {"k": "v"})

    assert not result.ok
    assert (result.code, result.permanent, result.attempts) == (43004, True, 1)
    assert len(fake.sends) == 1


# -- the fake without pytest-aiohttp -------------------------------------------


async def test_fake_runs_without_pytest_aiohttp(sqlite_db, session):
    async with FakeWechatAPI(APPID, SECRET, subscribers={OPENID}) as api:
        assert api.base_url.startswith("http://127.0.0.1:")
        sender = make_sender(api, session)
        assert (await sender.send_text(OPENID, "hi")).ok
        assert (await sender.send_text("o-other", "hi")).code == 45015
    assert api.delivered == [{"touser": OPENID, "msgtype": "text", "text": {"content": "hi"}}]
