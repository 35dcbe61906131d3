"""Long replies a page at a time (bot/pager.py): where the cuts fall, without a database."""

from __future__ import annotations

from bot.pager import split_pages


def test_a_short_reply_is_one_page():
    assert split_pages("一行\n两行", 300) == ["一行\n两行"]
    assert split_pages("x" * 500, 0) == ["x" * 500]  # 0: paging off


def test_pages_are_cut_between_lines_and_keep_every_line():
    lines = [f"{i}. " + "字" * 40 for i in range(1, 21)]  # 20 lines of ~44 characters
    pages = split_pages("\n".join(lines), 300)
    assert all(len(p) <= 300 for p in pages)
    assert [line for p in pages for line in p.split("\n")] == lines
    assert len(pages) == 4  # six lines of 44-45 characters fit in 300


def test_an_endless_line_is_cut_inside_and_nothing_is_lost():
    text = "开头\n" + "长" * 700 + "\n结尾"
    pages = split_pages(text, 300)
    assert all(len(p) <= 300 for p in pages)
    assert "".join(p.replace("\n", "") for p in pages) == text.replace("\n", "")
    assert pages[0] == "开头" and pages[-1].endswith("结尾")


def test_blank_lines_at_a_cut_are_dropped():
    text = "甲" * 290 + "\n\n\n" + "乙" * 10
    assert split_pages(text, 295) == ["甲" * 290, "乙" * 10]
