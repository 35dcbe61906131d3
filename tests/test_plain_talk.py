"""说人话（二）：私聊的大白话、语音、群里的自动受理、居民属于哪个社区（两种数据库）。"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import RUNTIME
from bot.clock import ManualClock
from models.events import DialogState
from models.requests import ServiceRequest
from models.talk import Residence
from tests.conftest import grant_officer
from tests.talk_texts import GREETING, PLAIN_HINT
from tests.wechat_channel.tools import VOICE_WITHOUT_TEXT, WechatPush, sample, start

OFFER = "要提交诉求吗？回复 1 提交"
PROMPT = "需要登记为诉求吗？回复 1"
LAMP = "3号楼2单元楼道灯坏了一个星期了"


@pytest.fixture
async def town(console, demo):
    """g1 bound to SQ001, whose officer is `secretary`."""
    assert "已把本群绑定" in await console.one("/绑定 SQ001", user="secretary", group="g1")
    return console


def clock_of(client) -> ManualClock:
    runtime = client.app[RUNTIME]
    runtime.clock = ManualClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))
    return runtime.clock


# -- plain words in private ----------------------------------------------------------------
async def test_a_broken_lamp_becomes_a_request_after_one(town):
    c = town
    await c.say("大家好", user="bob", group="g1")  # bob lives in SQ001's group
    assert await c.one("楼道灯坏了", user="bob") == OFFER
    assert not await ServiceRequest.all().count()
    filed = await c.one("1", user="bob")
    req = await ServiceRequest.get()
    assert (req.content, req.category) == ("楼道灯坏了", "repair")
    assert req.number in filed and not await DialogState.all().count()


async def test_a_request_from_someone_of_no_known_community_asks_for_it(town):
    c = town
    assert await c.one(LAMP, user="dan") == OFFER
    asked = await c.one("1", user="dan")
    assert "组织代码" in asked and not await ServiceRequest.all().count()
    await c.one("SQ001", user="dan")
    assert (await ServiceRequest.get()).content == LAMP


async def test_no_thanks_files_nothing(town):
    c = town
    await c.one("楼道灯坏了", user="bob")
    assert await c.one("不用了", user="bob") == "已取消，刚才填写的内容没有保存。"
    assert not await ServiceRequest.all().count()


async def test_a_flowing_member_is_offered_what_fits(town):
    c = town
    # Not a confirmed member yet: registering comes first.
    assert await c.one("我是流动党员，想报到", user="bob") == "要登记党员身份吗？回复 1 开始登记"
    assert "姓名" in await c.one("1", user="bob")
    await grant_officer("sq", "SQ001")  # an officer counts as a member
    assert await c.one("我是流动党员，想报到", user="sq") == "要到社区报到吗？回复 1 报到"


async def test_questions_are_answered_at_once(town):
    c = town
    assert await c.one("有什么活动", user="bob") == await c.one("/活动", user="bob")
    assert await c.one("我的积分", user="bob") == await c.one("/积分", user="bob")
    assert await c.one("我的诉求", user="bob") == await c.one("/我的诉求", user="bob")
    assert not await DialogState.all().count()


async def test_unknowns_get_the_short_menu(town):
    c = town
    assert await c.one("怎么交党费", user="bob") == PLAIN_HINT
    assert await c.one("今天天气怎么样", user="bob") == PLAIN_HINT


async def test_a_greeting_or_thanks_is_answered_not_misunderstood(town):
    c = town
    assert await c.one("你好", user="bob") == GREETING
    assert await c.one("在吗？", user="bob") == GREETING
    assert await c.one("谢谢！", user="bob") == "不客气！还有什么需要，随时跟我说。"
    assert await c.one("好的，谢谢", user="bob") == "不客气！还有什么需要，随时跟我说。"
    # a greeting in front of a request is the request
    assert await c.one("你好，我家楼道灯坏了", user="bob") == OFFER


# -- voice ------------------------------------------------------------------------------------
async def test_wechat_voice_is_read_as_typed_and_echoed_before_a_change(aiohttp_client, db_url):
    client = await start(aiohttp_client, db_url)
    wechat = WechatPush(client)
    said = sample("voice_recognition").replace("腾讯微信团队", "楼道灯坏了。")
    assert await wechat.exchange(said) == f"我听到的是：“楼道灯坏了。”\n{OFFER}"
    spoken = sample("voice_recognition").replace("腾讯微信团队", "报到")
    spoken = spoken.replace("1234567890123456", "1234567890123457")
    assert await wechat.exchange(spoken) == "我听到的是：“报到”\n要办 /报到 吗？回复 1 确认"
    state = await DialogState.get()
    assert (state.dialog, state.data["name"]) == ("offer", "报到")
    silent = sample("voice").replace("1234567890123456", "1234567890123458")
    assert await wechat.exchange(silent) == VOICE_WITHOUT_TEXT


# -- requests noticed in groups --------------------------------------------------------------
GROUP_CHATTER = [
    "大家早上好",
    "今天天气真不错",
    "哈哈哈哈哈哈哈哈",
    "收到，谢谢书记的通知",
    "明天上午的活动我参加",
    "@小王 你家楼道灯坏了吗",  # a reply to another member
    "灯坏了？",  # too short to be a request
    "下午三点在活动室开会，请大家准时参加",
    "谁家的快递放在门口了",
    "哈哈电梯坏了吧",
]


async def test_auto_intake_is_off_until_an_officer_turns_it_on(town):
    c = town
    assert await c.say(LAMP, user="bob", group="g1") == []
    assert (await c.one("/设置 自动受理 开", user="bob", group="g1")).startswith("/设置 只有")
    assert "已开启自动受理" in await c.one("/设置 自动受理 开", user="secretary", group="g1")
    assert await c.one(LAMP, user="bob", group="g1") == PROMPT
    assert "已关闭" in await c.one("/设置 自动受理 关", user="secretary", group="g1")
    assert await c.say("2号楼电梯坏了好几天了没人管", user="carol", group="g1") == []


@pytest.mark.parametrize("chatter", GROUP_CHATTER)
async def test_group_chatter_never_prompts(town, chatter):
    c = town
    await c.one("/设置 自动受理 开", user="secretary", group="g1")
    assert await c.say(chatter, user="bob", group="g1") == []


async def test_a_request_in_a_group_is_filed_only_when_its_author_says_one(town, client):
    c = town
    await c.one("/设置 自动受理 开", user="secretary", group="g1")
    assert await c.one(LAMP, user="bob", group="g1") == PROMPT
    # Someone else's "1" is not an answer, and officers are never prompted.
    assert await c.say("1", user="carol", group="g1") == []
    assert await c.say("路灯坏了我去看看，马上修", user="secretary", group="g1") == []
    filed = await c.one("1", user="bob", group="g1")
    req = await ServiceRequest.get()
    assert (req.content, req.org_id) == (LAMP, (await req.org).id)
    assert req.number in filed


async def test_prompts_are_rate_limited_per_person_and_group(town, client):
    c = town
    clock = clock_of(client)
    await c.one("/设置 自动受理 开", user="secretary", group="g1")
    assert await c.one(LAMP, user="bob", group="g1") == PROMPT
    assert await c.say("好的", user="bob", group="g1") == []  # not "1": nothing filed
    # The group had a prompt less than 5 minutes ago: carol is not asked.
    assert await c.say("5号楼下水道堵了一直没人修", user="carol", group="g1") == []
    clock.set(clock.now() + timedelta(minutes=6))
    assert await c.one("5号楼下水道堵了一直没人修", user="carol", group="g1") == PROMPT
    # bob was asked less than 30 minutes ago, in any group.
    clock.set(clock.now() + timedelta(minutes=6))
    assert await c.say("6号楼门口的路灯不亮了", user="bob", group="g1") == []
    clock.set(clock.now() + timedelta(minutes=30))
    assert await c.one("6号楼门口的路灯不亮了", user="bob", group="g1") == PROMPT
    assert not await ServiceRequest.all().count()


# -- residents belong to a community ------------------------------------------------------------
async def test_speaking_in_a_bound_group_remembers_the_community(town, client):
    c = town
    assert "还不知道您属于哪个社区" in await c.one("/我的社区", user="bob")
    await c.say("大家好", user="bob", group="g1")
    await c.say("今天有雨", user="bob", group="g1")  # unchanged: not written again
    row = await Residence.get(user_key="console:bob")
    assert (await row.org).code == "SQ001"
    assert "您属于“" in await c.one("/我的社区", user="bob")
    # Private /公开 and /诉求 default to it.
    assert await c.one("/公开", user="bob") == await c.one("/公开 SQ001", user="bob")
    filed = await c.one("/诉求 楼道灯坏了", user="bob")
    assert (await (await ServiceRequest.get()).org).code == "SQ001", filed


async def test_my_community_sets_it(town):
    c = town
    assert "记下了" in await c.one("/我的社区 SQ002", user="bob")
    assert (await (await Residence.get(user_key="console:bob")).org).code == "SQ002"
    assert "SQ999" in await c.one("/我的社区 SQ999", user="bob")


async def test_activities_published_in_the_community_group_are_for_residents(town):
    c = town
    line = "/发布活动 {} | 明天 14:00-16:00 | 党群服务中心 | {}"
    text = await c.one(line.format("清扫楼道", "10人"), user="secretary", group="g1")
    assert "对象：所有人（含居民）" in text
    text = await c.one(line.format("学习二十大精神", "党课"), user="secretary", group="g1")
    assert "对象：本组织党员" in text
    # A resident of the community sees the first in private, not the lecture.
    await c.say("大家好", user="bob", group="g1")
    menu = await c.one("/活动", user="bob")
    assert "清扫楼道" in menu and "学习二十大精神" not in menu


async def test_wecom_robot_voice_is_echoed_before_a_change(aiohttp_client, db_url):
    from tests.test_channel_wecom_bot import make_robot

    fake, client = await make_robot(aiohttp_client, db_url)
    answer = await fake.send(client, fake.voice_message("楼道灯坏了", user="zhangsan"))
    said = await fake.follow(client, answer, user="zhangsan")
    assert said == f"我听到的是：“楼道灯坏了”\n{OFFER}"
    answer = await fake.send(client, fake.voice_message("", user="lisi"))
    assert await fake.follow(client, answer, user="lisi") == VOICE_WITHOUT_TEXT
