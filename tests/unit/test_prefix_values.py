"""bot.db.prefix_values: the LIKE pattern and the byte-wise bounds of "starts with"."""

from __future__ import annotations

from bot.db import prefix_match, prefix_values


def test_pattern_escapes_and_bounds_hold_exactly_the_texts_with_the_prefix():
    assert prefix_values("/1/2/") == ["/1/2/%", "/1/2/", "/1/20"]
    assert prefix_values("a_b%\\") == ["a\\_b\\%\\\\%", "a_b%\\", "a_b%]"]
    prefix = "/1/2/"
    _, low, high = prefix_values(prefix)
    texts = ["/1/2/", "/1/2/12/", "/1/2/\uffff", "/1/2", "/1/20/", "/1/3/", "/1/", "/1/19/"]
    for text in texts:
        inside = low.encode() <= text.encode() < high.encode()
        assert inside == text.startswith(prefix), text


def test_match_names_the_column_and_the_marks():
    assert prefix_match("o.path", ["$1", "$2", "$3"]) == (
        "o.path LIKE $1 ESCAPE '\\' AND o.path ~>=~ $2 AND o.path ~<~ $3"
    )


def test_on_sqlite_the_bounds_are_plain_comparisons():
    assert prefix_match("path", ["?", "?", "?"], "sqlite") == (
        "path LIKE ? ESCAPE '\\' AND path >= ? AND path < ?"
    )
