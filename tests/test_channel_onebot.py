"""OneBot v11 HTTP POST channel over real loopback HTTP, with requests built the way
go-cqhttp builds them (Mrs4s/go-cqhttp server/http.go): compact JSON body, HMAC-SHA1 of
the raw bytes in X-Signature, X-Self-ID, User-Agent CQHttp/4.15.0."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from bot.app import RUNTIME, create_app
from bot.channels.onebot import MAX_REPLY_CHARS, OnebotChannel, limit_reply, message_content
from bot.inbound import Reply
from models.events import DialogState, InboundEvent
from models.people import GroupBinding, Organization
from tests.conftest import make_config
from tests.fakes.onebot_api import FakeOnebotAPI
from tests.talk_texts import PLAIN_HINT, PLAIN_HINT_GROUP

SAMPLES = Path(__file__).parent / "samples"  # copies of shared/platform-samples
SECRET = "lianxin-onebot-secret"
SELF_ID = 10001000
USER = 12345678
GROUP = 123456789

IMAGE_UNSUPPORTED = (
    "收到您的图片，不过我暂时只能看懂文字。请用文字描述，或发送 /帮助 查看可用命令。"
)
DENIED_BIND = (
    "/绑定 只有党务工作者可以使用，您的请求没有执行。\n如需开通，请联系本组织的党务工作者。"
)
BIND_USAGE = "/绑定 的格式不对。\n用法：/绑定 组织代码 [工作群]\n例如：/绑定 SQ001"
BOUND = (
    "已把本群绑定到“和平社区党委”（SQ001）。之后在本群使用的命令默认属于这个组织。"
    "工作通知（新诉求、新登记等）只发给党务工作者私聊或工作群，不会发到本群。"
)


def sample(name: str) -> dict[str, Any]:
    """A published sample, sent now (older events are refused as replays)."""
    data = json.loads((SAMPLES / f"onebot_{name}.json").read_text("utf-8"))
    if "time" in data:
        data["time"] = int(time.time())
    return data


def go_json(payload: Any) -> bytes:
    """What go-cqhttp puts on the wire: compact JSON, UTF-8, non-ASCII unescaped."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


class Cqhttp:
    """Plays go-cqhttp's reverse-HTTP reporter against /onebot."""

    def __init__(self, client, secret: str | None = SECRET) -> None:
        self.client = client
        self.secret = secret
        self.next_id = 1000

    def message_id(self) -> int:
        self.next_id += 1
        return self.next_id

    async def post(
        self,
        payload: Any,
        *,
        body: bytes | None = None,
        signature: str | None = None,
        sign_it: bool = True,
        self_id: Any = SELF_ID,
        extra_headers: dict[str, str] | None = None,
    ):
        raw = go_json(payload) if body is None else body
        headers = {"Content-Type": "application/json", "User-Agent": "CQHttp/4.15.0"}
        if self_id is not None:
            headers["X-Self-ID"] = str(self_id)
        if signature is not None:
            headers["X-Signature"] = signature
        elif sign_it and self.secret:
            headers["X-Signature"] = sign(raw, self.secret)
        headers.update(extra_headers or {})
        return await self.client.post("/onebot", data=raw, headers=headers)

    async def send(self, payload: dict[str, Any], **kw: Any) -> dict[str, Any] | None:
        """The quick operation the bot answered with, or None for 204."""
        resp = await self.post(payload, **kw)
        if resp.status == 204:
            assert await resp.read() == b""
            return None
        assert resp.status == 200, (resp.status, await resp.text())
        assert resp.content_type == "application/json"
        return json.loads(await resp.read())

    # -- payloads like the samples ----------------------------------------
    def private(self, message: Any, user: int = USER, **fields: Any) -> dict[str, Any]:
        p = sample("private_message")
        p.update(message_id=self.message_id(), user_id=user, message=message)
        p["raw_message"] = message if isinstance(message, str) else ""
        p["sender"]["user_id"] = user
        p.update(fields)
        return p

    def group(self, message: Any, user: int = USER, **fields: Any) -> dict[str, Any]:
        p = sample("group_message")
        p.update(message_id=self.message_id(), user_id=user, message=message)
        p["raw_message"] = message if isinstance(message, str) else ""
        p["sender"]["user_id"] = user
        p.update(fields)
        return p


def text(t: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": t}}


def at(qq: Any) -> dict[str, Any]:
    return {"type": "at", "data": {"qq": str(qq)}}


def op(reply: str, at_sender: bool = False) -> dict[str, Any]:
    return {"reply": reply, "at_sender": at_sender, "auto_escape": True}


@pytest.fixture
def config(db_url: str):
    """The conftest `client` (and `demo`) then run the app with the onebot channel on."""
    return make_config(db_url, onebot={"enabled": True, "secret": SECRET})


@pytest.fixture
def cq(client) -> Cqhttp:
    return Cqhttp(client)


# -- the sample payloads ---------------------------------------------------


async def test_sample_private_message(cq):
    assert await cq.send(sample("private_message")) == op(PLAIN_HINT)


async def test_sample_group_message_mentions_bot(cq):
    # reply + at(bot) + text + face + image: the @ makes the bot answer plain words.
    assert await cq.send(sample("group_message")) == op(PLAIN_HINT_GROUP, at_sender=True)


async def test_sample_group_message_cq_string(cq):
    assert await cq.send(sample("group_message_cqstring")) == op(PLAIN_HINT_GROUP, at_sender=True)


async def test_sample_group_increase_is_logged_and_answered_204(cq, caplog):
    with caplog.at_level(logging.INFO, logger="lianxin.onebot"):
        assert await cq.send(sample("group_increase")) is None
    joined = [r for r in caplog.records if r.name == "lianxin.onebot"]
    assert joined and joined[0].levelno == logging.INFO
    assert "12345678" in joined[0].getMessage() and "123456789" in joined[0].getMessage()


async def test_quick_operation_matches_sample_shapes(cq):
    group_sample = sample("quick_operation_group")
    private_sample = sample("quick_operation_private")
    for payload in (cq.private("/我"), cq.group("/我")):
        answer = await cq.send(payload)
        assert set(answer) <= set(group_sample)
        assert set(private_sample) <= set(answer)
        for key, value in answer.items():
            assert type(value) is type(group_sample[key]), key


def test_sample_content_extraction():
    array = sample("group_message")
    string = sample("group_message_cqstring")
    expected = ("[第一部分] 看看我刚拍的照片, a&b", True, "text")
    assert message_content(array["message"], str(SELF_ID)) == expected
    assert message_content(string["message"], str(SELF_ID)) == expected
    assert message_content(array["raw_message"], str(SELF_ID)) == expected


# -- conversations ---------------------------------------------------------


async def test_private_help(cq):
    answer = await cq.send(cq.private("/帮助"))
    assert answer["reply"].startswith("连心 · 可用命令")
    assert answer["at_sender"] is False
    assert answer["auto_escape"] is True


async def test_group_me_mentions_sender(cq):
    answer = await cq.send(cq.group([text("/我")]))
    assert answer["at_sender"] is True
    assert "平台身份：onebot:12345678" in answer["reply"]
    assert "您好，群名片！" in answer["reply"]  # sender.card wins over nickname
    assert "本群：尚未绑定组织" in answer["reply"]


async def test_private_display_name_is_nickname(cq):
    answer = await cq.send(cq.private("/我"))
    assert "您好，小不点！" in answer["reply"]
    assert "本群" not in answer["reply"]


async def test_group_chatter_without_mention_is_ignored(cq):
    assert await cq.send(cq.group([text("大家好")])) is None
    assert await cq.send(cq.group("大家好")) is None
    # An @ of someone else is not an @ of the bot.
    assert await cq.send(cq.group([at(55555), text(" 你好")])) is None
    assert await cq.send(cq.group([at("all"), text(" 开会了")])) is None
    # Nothing but a face / a reply: nothing to say.
    assert await cq.send(cq.group([{"type": "face", "data": {"id": "178"}}])) is None


async def test_group_mention_gets_an_answer(cq):
    answer = await cq.send(cq.group([at(SELF_ID), text(" 你好")]))
    assert answer == op(PLAIN_HINT_GROUP, at_sender=True)


async def test_group_command_after_mention_of_bot_or_other(cq):
    expected = await cq.send(cq.group([text("/我")]))
    assert await cq.send(cq.group([at(SELF_ID), text(" /我")])) == expected
    assert await cq.send(cq.group(f"[CQ:at,qq={SELF_ID}] /我")) == expected
    assert await cq.send(cq.group([at(55555), text(" /我")])) == expected


async def test_cq_string_equals_array_format(cq):
    pairs = [
        ([text("/帮助")], "/帮助"),
        ([at(SELF_ID), text(" 你好")], f"[CQ:at,qq={SELF_ID}] 你好"),
        (
            [{"type": "reply", "data": {"id": "9"}}, at(SELF_ID), text(" /我 "), at(SELF_ID)],
            f"[CQ:reply,id=9][CQ:at,qq={SELF_ID}] /我 [CQ:at,qq={SELF_ID}]",
        ),
        ([text("大家好")], "大家好"),
    ]
    for array, string in pairs:
        assert await cq.send(cq.group(array)) == await cq.send(cq.group(string)), string
    assert await cq.send(cq.private([text("/帮助")])) == await cq.send(cq.private("/帮助"))


async def test_reply_with_cq_code_text_goes_out_escaped(cq):
    assert "怎么称呼您" in (await cq.send(cq.private("/改称呼")))["reply"]
    # The user types the literal text "[CQ:at,qq=all]": the CQ string arrives escaped.
    answer = await cq.send(cq.private("&#91;CQ:at&#44;qq=all&#93;"))
    assert answer == op("好的，以后就称呼您“[CQ:at,qq=all]”。")
    me = await cq.send(cq.private("/我"))
    assert "您好，[CQ:at,qq=all]！" in me["reply"]
    assert me["auto_escape"] is True


async def test_image_only_private_message_says_unsupported(cq):
    image = {"type": "image", "data": {"file": "123.jpg"}}
    assert await cq.send(cq.private([image])) == op(IMAGE_UNSUPPORTED)
    assert await cq.send(cq.private("[CQ:image,file=123.jpg]")) == op(IMAGE_UNSUPPORTED)


async def test_emoji_round_trip(cq):
    await cq.send(cq.private("/改称呼"))
    assert await cq.send(cq.private([text("小林🎉👍🏻")])) == op("好的，以后就称呼您“小林🎉👍🏻”。")
    assert "您好，小林🎉👍🏻！" in (await cq.send(cq.private("/我")))["reply"]


async def test_four_thousand_character_message(cq):
    long = "长" * 3990 + "🎉" * 10
    assert await cq.send(cq.private(long)) == op(PLAIN_HINT)
    await cq.send(cq.private("/改称呼"))
    answer = await cq.send(cq.private([text(long)]))
    assert answer == op("称呼需要 1 到 20 个字，请重新输入（发送 /取消 退出）。")


async def test_very_long_reply_is_cut(aiohttp_client, db_url):
    # With paging off ([bot] page_chars = 0) the channel still cuts to OneBot's limit.
    config = make_config(db_url, onebot={"enabled": True, "secret": SECRET}, bot={"page_chars": 0})
    cq = Cqhttp(await aiohttp_client(create_app(config)))
    answer = await cq.send(cq.private("/" + "长" * 5000))
    assert len(answer["reply"]) == MAX_REPLY_CHARS
    assert answer["reply"].startswith("没有“/长长长")
    assert answer["reply"].endswith("长…")


async def test_bind_without_argument_as_resident_and_as_officer(cq, client, demo):
    assert await cq.send(cq.group([text("/绑定")])) == op(DENIED_BIND, at_sender=True)
    await grant_officer(client, str(USER), "SQ001")
    assert await cq.send(cq.group([text("/绑定")])) == op(BIND_USAGE, at_sender=True)
    assert await GroupBinding.all().count() == 0


async def test_officer_binds_group(cq, client, demo):
    await grant_officer(client, str(USER), "SQ001")
    answer = await cq.send(cq.group([at(SELF_ID), text(" /绑定 SQ001")]))
    assert answer == op(BOUND, at_sender=True)
    binding = await GroupBinding.get(platform="onebot", chat_id=str(GROUP)).prefetch_related("org")
    assert binding.org.code == "SQ001"
    # Anyone in the group now sees the binding.
    me = await cq.send(cq.group("/我", user=22223333))
    assert "本群：已绑定 和平社区党委（SQ001）" in me["reply"]
    assert "平台身份：onebot:22223333" in me["reply"]


async def grant_officer(client, user_id: str, org_code: str) -> None:
    identity = client.server.app[RUNTIME].identity
    person = await identity.ensure_person("onebot", user_id, "小不点")
    await identity.grant(person, "officer", await Organization.get(code=org_code), "test")


async def test_anonymous_group_message(cq):
    payload = cq.group(
        [text("/我")],
        user=80000000,
        sub_type="anonymous",
        anonymous={"id": 2333, "name": "小鸡", "flag": "AAAAAA==|小鸡"},
    )
    answer = await cq.send(payload)
    assert answer["at_sender"] is True
    assert "平台身份：onebot:80000000" in answer["reply"]
    assert "您好，小鸡！" in answer["reply"]
    assert "AAAAAA" not in answer["reply"]


async def test_bot_own_messages_are_ignored(cq):
    assert await cq.send(cq.private("/帮助", user=SELF_ID)) is None
    assert await cq.send(cq.group([text("/帮助")], user=SELF_ID)) is None
    sent = cq.group([text("/帮助")], post_type="message_sent", user=SELF_ID)
    assert await cq.send(sent) is None
    assert await InboundEvent.all().count() == 0


# -- retries ---------------------------------------------------------------


async def test_duplicate_delivery_acts_once(cq):
    payload = cq.private("/改称呼")
    first = await cq.send(payload)
    again = await cq.send(payload)
    assert "怎么称呼您" in first["reply"]
    assert again == first
    assert await DialogState.filter(user_key=f"onebot:{USER}").count() == 1
    assert await InboundEvent.filter(event_key=f"{SELF_ID}:{payload['message_id']}").count() == 1


async def test_same_message_id_from_another_bot_is_not_a_duplicate(cq):
    payload = cq.private("/帮助")
    await cq.send(payload)
    other = dict(payload, self_id=20002000)
    assert (await cq.send(other, self_id=20002000))["reply"].startswith("连心 · 可用命令")
    assert await InboundEvent.all().count() == 2


async def test_duplicate_group_delivery_repeats_text(cq):
    payload = cq.group([text("/我")])
    first = await cq.send(payload)
    again = await cq.send(payload)
    assert again["reply"] == first["reply"]


async def test_duplicate_group_delivery_keeps_at_sender(cq):
    payload = cq.group([text("/我")])
    first = await cq.send(payload)
    assert await cq.send(payload) == first


# -- refusals --------------------------------------------------------------


async def test_missing_signature_401(cq):
    resp = await cq.post(cq.private("/帮助"), sign_it=False)
    assert resp.status == 401


async def test_wrong_signature_403(cq):
    payload = cq.private("/帮助")
    resp = await cq.post(payload, signature=sign(go_json(payload), "another-secret"))
    assert resp.status == 403
    resp = await cq.post(payload, signature="sha1=" + "0" * 40)
    assert resp.status == 403
    resp = await cq.post(payload, signature="md5=nonsense")
    assert resp.status == 403
    resp = await cq.post(payload, signature="sha1=非ascii")
    assert resp.status == 403


async def test_signature_over_reserialized_json_403(cq):
    payload = cq.private("/帮助")
    raw = go_json(payload)
    # Same JSON value, different bytes: a signature over one does not cover the other.
    reserialized = json.dumps(json.loads(raw)).encode()
    assert reserialized != raw and json.loads(reserialized) == json.loads(raw)
    resp = await cq.post(payload, body=raw, signature=sign(reserialized))
    assert resp.status == 403
    resp = await cq.post(payload, body=reserialized, signature=sign(raw))
    assert resp.status == 403
    # Signing the bytes actually sent works for either form.
    assert (await cq.post(payload, body=reserialized)).status == 200


async def test_uppercase_hex_signature_accepted(cq):
    raw = go_json(cq.private("/帮助"))
    resp = await cq.post(None, body=raw, signature="sha1=" + sign(raw)[5:].upper())
    assert resp.status == 200


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"{}", b'{"post_type": 5}'],
    ids=["broken", "empty", "binary", "array", "string", "no-post-type", "post-type-int"],
)
async def test_malformed_bodies_400(cq, body):
    resp = await cq.post(None, body=body)
    assert resp.status == 400


async def test_deeply_nested_json_400(client):
    cq = Cqhttp(client)
    resp = await cq.post(None, body=b"[" * 30000 + b"]" * 30000)
    assert resp.status == 400


async def test_self_id_header_mismatch_400(cq):
    payload = cq.private("/帮助")
    assert (await cq.post(payload, self_id=99999)).status == 400
    # Either one alone is fine.
    assert (await cq.post(cq.private("/帮助"), self_id=None)).status == 200


async def test_bad_ids_400(cq):
    assert (await cq.post(cq.private("/帮助", user_id="abc"))).status == 400
    assert (await cq.post(cq.group("/帮助", group_id=None))).status == 400
    assert (await cq.post(cq.private("/帮助", user_id=True))).status == 400


async def test_get_not_allowed(client):
    resp = await client.get("/onebot")
    assert resp.status == 405


async def test_refusals_are_counted(cq, client):
    await cq.post(cq.private("/帮助"), sign_it=False)
    await cq.post(cq.private("/帮助"), signature="sha1=00")
    await cq.post(None, body=b"nope")
    metrics = await (await client.get("/metrics")).text()
    for reason in ("no_signature", "bad_signature", "bad_json"):
        assert f'platform="onebot",reason="{reason}"}} 1.0' in metrics, reason


# -- other events ----------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"post_type": "notice", "notice_type": "group_recall", "group_id": GROUP, "user_id": USER},
        {"post_type": "notice", "notice_type": "friend_add", "user_id": USER},
        {
            "post_type": "request",
            "request_type": "friend",
            "user_id": USER,
            "comment": "加个好友",
            "flag": "f1",
        },
        {
            "post_type": "request",
            "request_type": "group",
            "sub_type": "add",
            "group_id": GROUP,
            "user_id": USER,
            "flag": "f2",
        },
        {"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 5000},
        {"post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "enable"},
        {"post_type": "something_new"},
        {"post_type": "message", "message_type": "guild", "user_id": USER, "message": "hi"},
    ],
    ids=lambda e: f"{e['post_type']}-{e.get('notice_type') or e.get('request_type') or ''}",
)
async def test_other_events_204(cq, event):
    payload = {"time": 1515204254, "self_id": SELF_ID, **event}
    assert await cq.send(payload) is None


# -- access token and no secret ----------------------------------------------


async def test_access_token_is_accepted_not_required(aiohttp_client, db_url):
    config = make_config(db_url, onebot={"enabled": True, "secret": SECRET, "access_token": "tk"})
    cq = Cqhttp(await aiohttp_client(create_app(config)))
    assert (await cq.post(cq.private("/帮助"))).status == 200
    ok = {"Authorization": "Bearer tk"}
    assert (await cq.post(cq.private("/帮助"), extra_headers=ok)).status == 200
    bad = {"Authorization": "Bearer nope"}
    assert (await cq.post(cq.private("/帮助"), extra_headers=bad)).status == 403
    # The token never replaces the signature.
    assert (await cq.post(cq.private("/帮助"), sign_it=False, extra_headers=ok)).status == 401


async def test_without_secret_unsigned_events_are_taken(aiohttp_client, db_url):
    # bot.config refuses onebot.enabled without a secret; the channel still copes.
    config = make_config(db_url)
    config.onebot.enabled = True
    cq = Cqhttp(await aiohttp_client(create_app(config)), secret=None)
    answer = await cq.send(cq.private("/帮助"))
    assert answer["reply"].startswith("连心 · 可用命令")


# -- pure parts ----------------------------------------------------------------


def test_message_content_rules():
    me = str(SELF_ID)
    assert message_content([at(55555), text(" 看这个")], me) == ("@55555 看这个", False, "text")
    assert message_content([at("all"), text(" 开会")], me) == ("@all 开会", False, "text")
    assert message_content([at(SELF_ID)], me) == ("", True, "text")
    assert message_content([{"type": "record", "data": {"file": "a.amr"}}], me) == (
        "",
        False,
        "voice",
    )
    assert message_content([{"type": "face", "data": {"id": "1"}}], me) == ("", False, "text")
    # Text next to an image is still text.
    image = {"type": "image", "data": {"file": "1.jpg"}}
    assert message_content([image, text("看图")], me) == ("看图", False, "text")
    # No self_id known: nothing counts as a mention of the bot.
    assert message_content([at(SELF_ID), text("hi")], "") == (f"@{SELF_ID}hi", False, "text")
    assert message_content(None, me) == ("", False, "text")


def test_limit_reply():
    assert limit_reply("短") == "短"
    exact = "x" * MAX_REPLY_CHARS
    assert limit_reply(exact) == exact
    cut = limit_reply("ab " * 3000)
    assert len(cut) <= MAX_REPLY_CHARS and cut.endswith("b…")


def test_several_replies_joined_with_blank_line():
    resp = OnebotChannel._quick_reply([Reply("一", at_sender=True), Reply("二")], True)
    assert json.loads(resp.body) == op("一\n\n二", at_sender=True)
    resp = OnebotChannel._quick_reply([Reply("一", at_sender=True)], False)
    assert json.loads(resp.body) == op("一")
    resp = OnebotChannel._quick_reply([Reply("x")], True)
    assert json.loads(resp.body) == op("x", at_sender=False)
    assert OnebotChannel._quick_reply([], True).status == 204
    assert OnebotChannel._quick_reply([Reply("")], False).status == 204


# -- the fake OneBot HTTP API (for the outbound sender) --------------------------


@pytest.fixture
def fake_api() -> FakeOnebotAPI:
    return FakeOnebotAPI(access_token="kSLuTF2GC2Q4q4ugm3")


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


async def test_old_events_are_refused_as_replays(cq, client):
    p = cq.private("/帮助")
    p["time"] = int(time.time()) - 11 * 60  # onebot.max_event_age_seconds: 10 minutes
    assert (await cq.post(p)).status == 403
    metrics = await (await client.get("/metrics")).text()
    assert 'platform="onebot",reason="stale_event"} 1.0' in metrics
    p = cq.private("/帮助")
    p["time"] = int(time.time()) - 9 * 60
    assert (await cq.send(p))["reply"].startswith("连心 · 可用命令")
