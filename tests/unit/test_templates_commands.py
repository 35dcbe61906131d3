"""commands.toml and a service's own commands/<service>.toml beside it, merged."""

from __future__ import annotations

import pytest

from bot.templates import Templates


def test_a_service_may_keep_its_commands_in_its_own_file(tmp_path):
    (tmp_path / "commands.toml").write_text('[help]\nsummary = "帮助"\n', "utf-8")
    (tmp_path / "commands").mkdir()
    (tmp_path / "commands" / "books.toml").write_text(
        '[borrow]\nsummary = "借书"\n[book_labels]\nlent = "已借出"\n', "utf-8"
    )
    commands = Templates(tmp_path).commands
    assert commands["help"]["summary"] == "帮助"
    assert commands["borrow"]["summary"] == "借书"
    assert commands["book_labels"] == {"lent": "已借出"}


def test_a_key_in_two_files_is_refused(tmp_path):
    (tmp_path / "commands.toml").write_text('[help]\nsummary = "帮助"\n', "utf-8")
    (tmp_path / "commands").mkdir()
    (tmp_path / "commands" / "x.toml").write_text('[help]\nsummary = "又一个"\n', "utf-8")
    with pytest.raises(ValueError, match=r"\[help\] is defined twice"):
        assert Templates(tmp_path).commands is None
