"""An activity in a WeCom group through the smart robot: published, signed up for, and
checked in on site with the code (签到), on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.app import RUNTIME
from bot.demo import seed
from models.activities import Activity, Signup
from models.deliveries import Delivery
from models.people import Organization
from tests.test_activities_chat import ONE_LINE, starts_soon
from tests.test_channel_wecom_bot import CHAT, make_robot

OFFICER, MEMBER = "WangShuJi", "LiSi"


async def test_signup_and_checkin_in_a_wecom_group(aiohttp_client, db_url):
    fake, client = await make_robot(aiohttp_client, db_url)
    runtime = client.app[RUNTIME]
    await seed()
    officer = await runtime.identity.ensure_person("wecom-bot", OFFICER, "王书记")
    await runtime.identity.grant(officer, "officer", await Organization.get(code="SQ001"))

    async def say(user: str, words: str) -> str:
        text = await fake.say(client, words, user=user, chat=CHAT)
        await runtime.settle()
        return text

    assert (await say(OFFICER, "/绑定 SQ001")).startswith("已把本群绑定到“和平社区党委”")
    assert (await say(OFFICER, ONE_LINE)).startswith("活动已发布，编号 ")
    act = await Activity.all().order_by("-id").first()
    assert act.reply_target == f"wecom-bot-chat:{CHAT}"

    signup = fake.text_message(f"/报名 {act.id}", user=MEMBER, chat=CHAT)
    first = await fake.follow(client, await fake.send(client, signup), user=MEMBER, chat=CHAT)
    assert first.startswith("报名成功：敬老院志愿服务")
    # The platform delivers the same message again: same stream, one sign-up.
    again = await fake.send(client, signup)
    assert again["stream"]["content"] == first
    assert await Signup.filter(activity_id=act.id).count() == 1

    act = await starts_soon(act)
    # The code is not said in the group (anyone there could check in without coming), and
    # the robot cannot message the officer unasked: the officer is asked to use it in private.
    assert await say(OFFICER, f"/签到码 {act.id}") == "/签到码 涉及个人信息，请私聊我使用。"
    code_text = await fake.say(client, f"/签到码 {act.id}", user=OFFICER)
    code = (await Activity.get(id=act.id)).checkin_code
    assert f"的签到码：{code}" in code_text
    checked = await say(MEMBER, f"/签到 {act.id} {code}")
    assert checked.startswith("签到成功：敬老院志愿服务") and "志愿时长 +2.0 小时" in checked
    row = await Signup.get(activity_id=act.id)
    assert row.attended_at is not None
    # The robot cannot push: notices meant for this group are refused with the reason.
    pushed = await Delivery.filter(target=f"wecom-bot-chat:{CHAT}")
    assert all(d.status == "refused" for d in pushed)
