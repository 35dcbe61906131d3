"""bot/tabular.py without a database: reading xlsx and csv by Chinese headers, the error
report, the template (its comment row and untouched example row are not data)."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from bot.tabular import Column, TableError, describe, read_table, template_xlsx
from bot.templates import Templates
from models.checkin import normalize_phone
from models.roster import MEMBER_COLUMNS, parse_member_type

COLUMNS = (
    Column("name", "姓名", example="张示例", note="真实姓名"),
    Column("phone", "手机号", parse=normalize_phone, unique=True, example="13800000000"),
    Column("kind", "党员类别", parse=parse_member_type, example="正式党员"),
    Column("note", "备注", required=False),
)


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    for r in rows:
        book.active.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_by_headers_in_any_order_with_numbers_as_excel_stores_them():
    data = xlsx([["手机号", "姓名*", "党员类别"], [13912345678, "李四", "预备党员"]])
    rows, errors = read_table(data, COLUMNS)
    assert errors == []
    assert [(r.number, r.values) for r in rows] == [
        (2, {"name": "李四", "phone": "13912345678", "kind": "probationary", "note": ""})
    ]


def test_csv_utf8_bom_and_gb18030():
    text = "姓名,手机号,党员类别,备注\n王五,139 1234 5679,正式,\n"
    for data in (("\ufeff" + text).encode("utf-8"), text.encode("gb18030")):
        rows, errors = read_table(data, COLUMNS)
        assert errors == [] and rows[0].values["phone"] == "13912345679"
        assert rows[0].values["kind"] == "full"


def test_every_problem_with_its_row_and_column():
    data = xlsx(
        [
            ["姓名", "手机号", "党员类别"],
            ["甲", "13912345678", "正式党员"],
            ["", "12345", "团员"],
            ["乙", "13912345678", "预备党员"],
        ]
    )
    rows, errors = read_table(data, COLUMNS)
    found = [(e.row, e.column, e.code) for e in errors]
    assert found == [
        (3, "姓名", "required"),
        (3, "手机号", "checkin_bad_phone"),
        (3, "党员类别", "bad_member_type"),
        (4, "手机号", "duplicate"),
    ]
    assert [r.failed for r in rows] == [False, True, True]
    words = [describe(e, Templates()) for e in errors]
    assert words[0] == "第 3 行「姓名」：不能为空。"
    assert words[1] == "第 3 行「手机号」：“12345”不是 11 位手机号。"
    assert words[3] == "第 4 行「手机号」：“13912345678”与第 2 行重复。"


def test_files_that_are_not_tables():
    with pytest.raises(TableError) as missing:
        read_table(xlsx([["姓名", "电话"], ["甲", "1"]]), COLUMNS)
    assert missing.value.error.code == "missing_columns"
    assert "手机号、党员类别" in describe(missing.value.error, Templates())
    for data in (b"", b"PK\x03\x04broken", b"\xff\xfe\x00\x00garbage\x00"):
        with pytest.raises(TableError):
            read_table(data, COLUMNS)


def test_template_has_headers_comment_row_and_example_that_read_back_as_nothing():
    data = template_xlsx(MEMBER_COLUMNS, "党员导入模板")
    sheet = load_workbook(io.BytesIO(data)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows(max_row=3)]
    assert rows[0] == ["姓名*", "手机号*", "所属组织代码*", "党员类别*", "组织关系", "聊天账号"]
    assert rows[1][0].startswith("说明：真实姓名") and rows[1][1] == "11 位手机号，不能重复"
    assert rows[2][:4] == ["张示例", "13800000000", "ZB001", "正式党员"]
    with pytest.raises(TableError) as empty:
        read_table(data, MEMBER_COLUMNS)
    assert empty.value.error.code == "file_empty"
    # A filled-in template: the officer's row is read, the template's rows are not.
    book = load_workbook(io.BytesIO(data))
    book.active.append(["赵六", "13700001111", "ZB001", "预备党员"])
    out = io.BytesIO()
    book.save(out)
    rows, errors = read_table(out.getvalue(), MEMBER_COLUMNS)
    assert errors == [] and [r.number for r in rows] == [4]
