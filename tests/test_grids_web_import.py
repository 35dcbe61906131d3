"""住户也在党务工作台的导入页导入：同样的校验、同样的范围。"""

from __future__ import annotations

import pytest

from models.grids.households import Household
from tests.conftest import grant_officer
from tests.test_grids_chat import grant
from tests.test_grids_import import ROWS
from tests.test_tabular import xlsx
from tests.test_web_import import upload
from tests.webtools import admin_config, login


@pytest.fixture
def config(db_url):
    return admin_config(db_url)


async def test_households_on_the_import_page(client, console, demo):
    await grant("gw1", "grid_worker", "WG01")
    await login(client, console, "secretary")
    page = await (await client.get("/admin/import?kind=households")).text()
    assert (
        "导入住户" in page and "网格代码" in page and "独居老人、困难家庭、党员户、出租户" in page
    )
    rows = [[*row[:6], "", ""] for row in ROWS]  # no member column values
    good = await upload(client, xlsx(rows), kind="households")
    assert good.status == 200 and "已导入：2 行，新建 2，更新 0，不变 0。" in await good.text()
    assert await Household.all().count() == 2
    template = await client.get("/admin/import/template.xlsx?kind=households")
    assert template.status == 200 and len(await template.read()) > 1000
    # an officer of another community may not import into this grid
    await grant_officer("sq2", "SQ002")
    await client.get("/admin/logout")
    client.session.cookie_jar.clear()
    await login(client, console, "sq2")
    refused = await upload(client, xlsx(rows), kind="households")
    assert refused.status == 422
    assert "WG01 不在您负责的组织范围内" in await refused.text()
