"""通用表格导入：读 xlsx / csv（中文表头），逐行校验，出错报告（行、列、原因），试导入，模板。

Any importer (the roster in models/roster.py, households …) describes its columns
once as `Column`s and gets:

- `read_table(data, columns)`: the rows of an xlsx or csv file (UTF-8 with or without
  BOM, or GB18030 as Excel saves CSV in China), found by their Chinese headers in any
  order; the template's explanation row and its untouched example row are skipped; each
  cell checked by the column's `parse` (required, format) and `unique` columns checked for
  duplicates within the file. Every problem is a `RowError(row, column, code, details)`
  with the row number the officer sees in the spreadsheet.
- `run_import(apply, dry_run=…)`: runs the importer's writes in ONE transaction, rolled
  back when any row is refused or on a dry run, so nothing is written unless every row
  is valid, and a dry run reports exactly what a real run would do.
- `template_xlsx(columns)`: a template with the headers, a comment row explaining each
  column and one example row.

Reasons are codes with details; the words are in templates/zh_CN/import_errors.j2
(`describe`).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from bot.text import fold_width
from models.errors import DomainError

# The explanation row of a template starts with this in its first cell.
COMMENT_MARK = "说明"
MAX_ROWS = 20000


@dataclass(frozen=True)
class Column:
    key: str  # the field name the importer uses
    header: str  # the Chinese header in the file
    required: bool = True
    note: str = ""  # the template's explanation
    example: str = ""  # the template's example value
    aliases: tuple[str, ...] = ()  # other headers accepted for this column
    # str -> value; raises DomainError(code, **details) when the cell is not acceptable.
    parse: Callable[[str], Any] | None = None
    unique: bool = False  # a value may appear once in the file


@dataclass(frozen=True)
class RowError:
    row: int  # the row number in the spreadsheet (1 = the header row); 0 = the whole file
    column: str  # the column's header, "" when it is about the row or the file
    code: str
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Row:
    number: int
    values: dict[str, Any]  # parsed values by column key ("" / None when empty)
    # A cell of this row was refused: importers skip its further checks and writes.
    failed: bool = False


@dataclass
class Report:
    """What an import did (or, on a dry run or with errors, would have done)."""

    errors: list[RowError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    dry_run: bool = False
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class TableError(Exception):
    """The file cannot be read as a table at all (not xlsx/csv, no header row …)."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.error = RowError(0, "", code, details)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number Excel stored as a number
    return fold_width(str(value)).strip()


def _raw_rows(data: bytes) -> list[list[str]]:
    if data[:4] == b"PK\x03\x04":
        try:
            from openpyxl import load_workbook

            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise TableError("file_unreadable", kind="xlsx") from exc
        sheet = book.worksheets[0]
        rows = [[_cell(v) for v in r] for r in sheet.iter_rows(values_only=True)]
        book.close()
        return rows
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("file_unreadable", kind="csv")
    if "\x00" in text:
        raise TableError("file_unreadable", kind="csv")
    try:
        return [[_cell(v) for v in r] for r in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise TableError("file_unreadable", kind="csv") from exc


def _header_key(text: str) -> str:
    return text.replace("*", "").replace("（必填）", "").replace(" ", "").strip()


def read_table(data: bytes, columns: Sequence[Column]) -> tuple[list[Row], list[RowError]]:
    """The file's rows, parsed; and every problem found (empty when all are good).

    Raises TableError when there is no table to speak of."""
    raw = _raw_rows(data)
    start = next((i for i, r in enumerate(raw) if any(r)), None)
    if start is None:
        raise TableError("file_empty")
    by_header: dict[str, Column] = {}
    for col in columns:
        for name in (col.header, *col.aliases):
            by_header[_header_key(name)] = col
    positions: dict[str, int] = {}
    for i, text in enumerate(raw[start]):
        found = by_header.get(_header_key(text))
        if found is not None and found.key not in positions:
            positions[found.key] = i
    missing = [c.header for c in columns if c.required and c.key not in positions]
    if missing:
        raise TableError("missing_columns", columns="、".join(missing))
    if len(raw) - start - 1 > MAX_ROWS:
        raise TableError("too_many_rows", limit=MAX_ROWS)
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, Any], int] = {}
    for offset, cells in enumerate(raw[start + 1 :], start=start + 2):
        texts = {key: (cells[i] if i < len(cells) else "") for key, i in positions.items()}
        if not any(texts.values()) or _is_template_row(cells, texts, columns):
            continue
        values: dict[str, Any] = {}
        before = len(errors)
        for col in columns:
            text = texts.get(col.key, "")
            if not text:
                if col.required:
                    errors.append(RowError(offset, col.header, "required"))
                values[col.key] = None if col.parse else ""
                continue
            try:
                values[col.key] = col.parse(text) if col.parse else text
            except DomainError as err:
                errors.append(RowError(offset, col.header, err.code, err.details))
                continue
            if col.unique:
                key = (col.key, values[col.key])
                if key in seen:
                    errors.append(
                        RowError(
                            offset, col.header, "duplicate", {"value": text, "first": seen[key]}
                        )
                    )
                else:
                    seen[key] = offset
        rows.append(Row(offset, values, failed=len(errors) > before))
    if not rows and not errors:
        raise TableError("file_empty")
    return rows, errors


def _is_template_row(cells: list[str], texts: dict[str, str], columns: Sequence[Column]) -> bool:
    """The template's explanation row, or its example row left as it was."""
    first = next((c for c in cells if c), "")
    if first.startswith(COMMENT_MARK):
        return True
    examples = [(c.key, c.example) for c in columns if c.example]
    return bool(examples) and all(texts.get(k, "") == v for k, v in examples)


class _Rollback(Exception):
    def __init__(self, report: Report) -> None:
        super().__init__("rollback")
        self.report = report


async def run_import(
    apply: Callable[[Report], Awaitable[None]], report: Report, *, dry_run: bool = False
) -> Report:
    """Run `apply(report)` in one transaction; keep its writes only when there is no error
    (the cells' or its own) and this is not a dry run. `apply` checks every row that
    has no refused cell, and adds RowErrors and counts to the report."""
    report.dry_run = dry_run
    try:
        async with in_transaction():
            await apply(report)
            if report.errors or dry_run:
                raise _Rollback(report)
    except _Rollback:
        report.errors.sort(key=lambda e: e.row)  # in the order of the spreadsheet
        return report
    report.written = True
    return report


def template_xlsx(columns: Sequence[Column], title: str = "导入模板") -> bytes:
    """Headers (required ones marked *), the explanation row, one example row."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([f"{c.header}{'*' if c.required else ''}" for c in columns])
    notes = [f"{COMMENT_MARK}：{c.note}" if i == 0 else c.note for i, c in enumerate(columns)]
    sheet.append(notes)
    sheet.append([c.example for c in columns])
    for i, col in enumerate(columns, start=1):
        head = sheet.cell(row=1, column=i)
        head.font = Font(bold=True)
        head.fill = PatternFill("solid", fgColor="FDE8E8")
        head.comment = Comment(col.note or col.header, "连心")
        sheet.cell(row=2, column=i).font = Font(italic=True, color="777777")
        sheet.column_dimensions[head.column_letter].width = max(14, len(col.note) + 4)
        # Phone numbers and codes stay text (Excel would turn 138… into 1.38E+10).
        sheet.column_dimensions[head.column_letter].number_format = "@"
        sheet.cell(row=3, column=i).number_format = "@"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def describe(error: RowError, templates: Any) -> str:
    """The sentence for one problem (templates/zh_CN/import_errors.j2)."""
    return str(templates.render("import_errors", e=error, code=error.code, **error.details))


def describe_all(errors: Iterable[RowError], templates: Any) -> list[str]:
    return [describe(e, templates) for e in errors]
