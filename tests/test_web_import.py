"""/admin/import：坏文件、好文件、重复导入不变、试导入、只能导入自己负责的组织、模板下载。"""

from __future__ import annotations

import io

import aiohttp
import pytest
from openpyxl import load_workbook

from models.people import Person
from models.web import AuditEntry
from tests.conftest import grant_officer
from tests.test_roster import MEMBERS
from tests.test_tabular import xlsx
from tests.webtools import admin_config, csrf_in, login


@pytest.fixture
def config(db_url):
    return admin_config(db_url)


async def upload(client, data: bytes, kind: str = "members", dry_run: bool = False, name="a.xlsx"):
    html = await (await client.get(f"/admin/import?kind={kind}")).text()
    form = aiohttp.FormData()
    form.add_field("_csrf", csrf_in(html))
    form.add_field("kind", kind)
    if dry_run:
        form.add_field("dry_run", "1")
    form.add_field("file", data, filename=name)
    return await client.post("/admin/import", data=form)


async def test_bad_file_then_good_file_then_again(client, console, demo):
    await login(client, console, "secretary")
    bad = [*MEMBERS, ["王五", "123", "ZB001", "正式党员"]]
    resp = await upload(client, xlsx(bad))
    html = await resp.text()
    assert resp.status == 422
    assert "3 行里有 1 处问题，什么都没有写入" in html
    assert "第 4 行「手机号」：“123”不是 11 位手机号。" in html
    assert await Person.filter(phone="13800001111").count() == 0

    dry = await upload(client, xlsx(MEMBERS), dry_run=True)
    assert "试导入（没有写入）：2 行，新建 2" in await dry.text()
    assert await Person.filter(phone="13800001111").count() == 0

    good = await upload(client, xlsx(MEMBERS))
    assert good.status == 200 and "已导入：2 行，新建 2，更新 0，不变 0。" in await good.text()
    again = await upload(client, xlsx(MEMBERS))
    assert "已导入：2 行，新建 0，更新 0，不变 2。" in await again.text()
    assert await Person.filter(phone="13800001111").count() == 1
    audit = await AuditEntry.filter(action="import").order_by("id")
    assert [a.detail for a in audit] == ["members a.xlsx created=2", "members a.xlsx unchanged=2"]


async def test_not_a_table_and_csv(client, console, demo):
    await login(client, console, "secretary")
    junk = await upload(client, b"\x00\x01 not a table", name="x.csv")
    assert junk.status == 422 and "文件读不出来" in await junk.text()
    csv = "姓名,手机号,所属组织代码,党员类别\n钱七,13800007777,ZB001,正式党员\n".encode("gb18030")
    ok = await upload(client, csv, name="m.csv")
    assert "新建 1" in await ok.text()


async def test_an_officer_imports_only_into_their_scope(client, console, demo):
    await grant_officer("sq2", "SQ002")
    await login(client, console, "sq2")
    resp = await upload(client, xlsx(MEMBERS))
    html = await resp.text()
    assert resp.status == 422 and "ZB001 不在您负责的组织范围内。" in html
    orgs = [["组织代码", "组织名称", "类别", "上级组织代码"], ["TOP2", "另一个区委", "区委", ""]]
    resp = await upload(client, xlsx(orgs), kind="orgs")
    assert "TOP2 不在您负责的组织范围内。" in await resp.text()


async def test_template_download(client, console, demo):
    await login(client, console, "secretary")
    resp = await client.get("/admin/import/template.xlsx")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(await resp.read())).active
    assert [c.value for c in sheet[1]] == [
        "姓名*", "手机号*", "所属组织代码*", "党员类别*", "组织关系", "聊天账号"
    ]  # fmt: skip
    page = await (await client.get("/admin/import?kind=orgs")).text()
    assert "上级组织代码" in page and "下载组织模板" in page


async def test_upload_without_csrf_is_refused(client, console, demo):
    await login(client, console, "secretary")
    form = aiohttp.FormData()
    form.add_field("kind", "members")
    form.add_field("file", xlsx(MEMBERS), filename="a.xlsx")
    resp = await client.post("/admin/import", data=form)
    assert resp.status == 403
    assert await Person.filter(phone="13800001111").count() == 0
