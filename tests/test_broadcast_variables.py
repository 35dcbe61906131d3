"""Broadcast template variables: the broadcaster's own (date, weekday, org, lesson) and
those a service registers (the activities service's {{ 本周活动 }})."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.broadcaster import Broadcaster
from bot.demo import seed
from bot.runtime import Runtime
from models.activities import Activity
from models.people import Organization, Person
from tests.conftest import make_config

# Thursday 2026-11-19 09:00 in Beijing.
NOW = datetime(2026, 11, 19, 1, tzinfo=UTC)


async def test_variables_in_english_and_chinese(db_url, db):
    await seed()
    org = await Organization.get(code="SQ001")
    officer = await Person.create(display_name="书记")
    broadcaster = Broadcaster(Runtime.build(make_config(db_url)))

    empty = await broadcaster.variables(org, NOW)
    assert empty["date"] == empty["日期"] == "11月19日"
    assert empty["full_date"] == empty["完整日期"] == "2026年11月19日"
    assert empty["weekday"] == empty["星期"] == "星期四"
    assert empty["org"] == empty["组织"] == org.name
    assert empty["activities"] == empty["本周活动"] == "（本周暂无活动）"

    for hours, title in ((30, "街道巡河"), (6, "志愿清扫")):
        start = NOW + timedelta(hours=hours)
        await Activity.publish(
            org, officer, title=title, starts_at=start, ends_at=start + timedelta(hours=1),
            place="小区广场", audience="everyone", now=NOW,
        )  # fmt: skip
    week = (await broadcaster.variables(org, NOW))["本周活动"]
    assert week.split("\n") == [
        "· 11月19日 星期四 15:00 志愿清扫（小区广场）",
        "· 11月20日 星期五 15:00 街道巡河（小区广场）",
    ]
