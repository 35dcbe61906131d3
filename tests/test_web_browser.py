"""党务工作台在真的浏览器里（Debian 的 chromium，Playwright 驱动，中文字体 fonts-wqy-microhei）。

Each scenario saves a screenshot under tests/artifacts/ (ignored by git). Without
/usr/bin/chromium the tests skip, except in CI (CI=true), where .ci/run installs it.
Playwright never downloads a browser here: it drives the system's chromium.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from bot.app import RUNTIME
from tests.test_checkin_chat import number_in, register
from tests.test_roster import MEMBERS
from tests.test_tabular import xlsx
from tests.webtools import admin_config, link_in, path_of, two_communities

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    missing = None
    if not CHROMIUM.exists():
        missing = "/usr/bin/chromium is not installed (apt-get install chromium fonts-wqy-microhei)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture
def config(db_url):
    return admin_config(db_url)


@pytest.fixture
async def browser():
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        await b.close()


@pytest.fixture
async def officer_page(browser, client, console, demo):
    """A phone-sized page logged in as the secretary: /登录 in chat, open the link, 登录."""
    await two_communities(console)
    for text, user in (
        ("/诉求 3号楼楼道灯坏了，晚上很黑", "bob"),
        ("/诉求 小区门口垃圾堆了三天", "carol"),
        ("/诉求 想咨询劳动合同纠纷", "dan"),
    ):
        await console.one(text, user=user, group="g1")
    context = await browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=2, locale="zh-CN"
    )
    page = await context.new_page()
    reply = await console.one("/登录", user="secretary")
    await page.goto(str(client.make_url(path_of(link_in(reply)))))
    await page.click("#login-button")
    await page.wait_for_url(re.compile(r"/admin/$"))
    yield page
    await context.close()


async def shot(page, name: str, full: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full)
    assert path.stat().st_size > 10_000
    return path


async def test_login_link_and_the_overview_with_its_charts(officer_page):
    page = officer_page
    assert await page.text_content("#kpi-received .value") == "3"
    await page.wait_for_selector("#chart-per_day[data-drawn='1'] canvas")
    await page.wait_for_selector("#chart-by_category[data-drawn='1'] canvas")
    assert await page.locator("canvas").count() >= 3
    await shot(page, "overview-375")
    await page.set_viewport_size({"width": 1200, "height": 900})
    await page.reload()
    await page.wait_for_selector("#chart-by_org[data-drawn='1'] canvas")
    await shot(page, "overview")


async def test_accept_a_request_and_the_requester_is_told(officer_page, client, console):
    page = officer_page
    await page.click("text=工单")
    await page.wait_for_selector("#queue")
    await shot(page, "queue-375")
    row = page.locator("#queue tr", has_text="楼道灯")
    number = (await row.locator("a").text_content()).strip()
    await row.locator("a").click()
    await page.click("#accept")
    await page.wait_for_selector("#flash")
    assert "已接单" in await page.text_content("#flash")
    assert await page.text_content("#request-status") == "办理中"
    await client.app[RUNTIME].settle()
    resp = await client.post(
        "/console", json={"user": "bob", "chat": "g1", "group": True, "text": ""}
    )
    pushes = (await resp.json())["pushes"]
    assert any(p.startswith(f"您的诉求 {number} 已有专人办理") for p in pushes), pushes
    await shot(page, "request-accepted")
    await page.set_viewport_size({"width": 1200, "height": 800})
    await page.goto(str(client.make_url("/admin/requests?status=all")))
    await shot(page, "queue")


async def test_import_a_roster_and_find_the_member(officer_page, client, tmp_path):
    page = officer_page
    file = tmp_path / "members.xlsx"
    file.write_bytes(xlsx(MEMBERS))
    await page.goto(str(client.make_url("/admin/import")))
    await page.set_input_files("#import-file", str(file))
    await page.click("#import-submit")
    await page.wait_for_selector("#import-result")
    assert "已导入：2 行，新建 2" in await page.text_content("#import-result")
    await shot(page, "import")
    await page.click("text=党员与群众")
    await page.fill("#people-q", "李四")
    await page.press("#people-q", "Enter")
    await page.wait_for_selector("#people >> text=李四")
    assert "13800002222" in await page.text_content("#people")
    await shot(page, "people-found")


async def test_confirm_a_registration_and_me_changes(officer_page, client, console):
    page = officer_page
    no = number_in(await register(console, user="erin", name="赵敏", phone="13800007777"))
    assert "角色：群众" in await console.one("/我", user="erin")
    await page.goto(str(client.make_url("/admin/approvals")))
    await page.click(f"#confirm-{no}")
    await page.wait_for_selector("#flash")
    assert f"已确认登记 {no}" in await page.text_content("#flash")
    await shot(page, "approvals")
    await client.app[RUNTIME].settle()
    assert "角色：党员（和平社区第一党支部）" in await console.one("/我", user="erin")
