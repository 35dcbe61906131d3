"""The event line's cheap path (bot/logs.py) and masking's shortcuts (bot/text.py)."""

from __future__ import annotations

import asyncio
import io
import logging

from bot.logs import _MaskingFormatter, _PassHandler
from bot.text import mask_private

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"  # checksum-valid


def _logger(stream: io.StringIO) -> logging.Logger:
    handler = _PassHandler(stream)
    handler.setFormatter(_MaskingFormatter())
    log = logging.getLogger("test.logs.pass")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


def test_event_line_reads_as_the_standard_format():
    record = logging.LogRecord("lianxin.event", logging.INFO, __file__, 1, '{"a": 1}', None, None)
    standard = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    assert _MaskingFormatter().format(record) == standard.format(record)


def test_other_lines_are_masked_and_event_lines_are_not_touched():
    fmt = _MaskingFormatter()
    other = logging.LogRecord("lianxin.x", logging.INFO, __file__, 1, "tel %s", (PHONE,), None)
    assert "138****5678" in fmt.format(other) and PHONE not in fmt.format(other)


def test_lines_of_one_loop_pass_go_out_together_and_warnings_at_once():
    stream = io.StringIO()
    log = _logger(stream)

    async def main() -> list[str]:
        seen = []
        log.info("one")
        log.info("two")
        seen.append(stream.getvalue())  # held while the pass runs
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(stream.getvalue())  # written when the pass ended
        log.info("three")
        log.warning("four")  # at once, after what was held, in order
        seen.append(stream.getvalue())
        return seen

    held, passed, warned = asyncio.run(main())
    assert held == ""
    assert passed.index("one\n") < passed.index("two\n") and passed.endswith("two\n")
    assert warned.index("three") < warned.index("four") and warned.endswith("four\n")


def test_outside_a_loop_a_line_is_written_at_once():
    stream = io.StringIO()
    _logger(stream).info("now")
    assert stream.getvalue().endswith("now\n")


def test_long_texts_seen_clean_are_still_masked_when_they_hold_a_number():
    clean = "连心 · 可用命令\n" + "一二三四五六七八九十" * 40
    assert mask_private(clean) == clean
    assert mask_private(clean) == clean  # the second time from the set of clean texts
    with_phone = clean + PHONE
    with_id = clean + " " + ID_NUMBER
    assert PHONE not in mask_private(with_phone) and "138****5678" in mask_private(with_phone)
    assert ID_NUMBER not in mask_private(with_id) and "1101**********002X" in mask_private(with_id)
    assert mask_private(PHONE) == "138****5678"
    assert mask_private("1381234567") == "1381234567"  # ten digits: not a phone


def test_the_direct_event_line_is_the_line_a_record_gives(monkeypatch):
    from bot import logs

    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup_logging("INFO")
        handler = root.handlers[0]
        assert isinstance(handler, _PassHandler)
        handler.setStream(stream)
        assert logs._direct_handler() is handler
        logs.log_event(platform="onebot", user=PHONE, command="help", ms=1.5)
        direct = stream.getvalue()
        monkeypatch.setattr(logs, "_direct_handler", lambda: None)  # the record's way
        logs.log_event(platform="onebot", user=PHONE, command="help", ms=1.5)
        through_record = stream.getvalue()[len(direct) :]
        # Same line but the time (milliseconds may differ between the two calls).
        assert direct.split(" ", 2)[2] == through_record.split(" ", 2)[2]
        assert direct.split(" ", 2)[2].startswith("INFO lianxin.event {")
        assert "138****5678" in direct and PHONE not in direct
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_a_capture_on_the_way_gets_event_records():
    from bot import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    seen: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = seen.append  # type: ignore[method-assign]
    try:
        logs.setup_logging("INFO")
        root.handlers[0].setStream(io.StringIO())  # type: ignore[attr-defined]
        root.addHandler(capture)
        assert logs._direct_handler() is None
        logs.log_event(platform="onebot", command="help")
        assert [r.name for r in seen] == ["lianxin.event"]
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_a_failing_stream_never_fails_the_event(capsys):
    from bot import logs

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("stream gone")

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup_logging("INFO")
        root.handlers[0].setStream(Broken())  # type: ignore[attr-defined]
        assert logs._direct_handler() is root.handlers[0]
        logs.log_event(platform="onebot", command="help")  # outside a loop: written at once
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert "stream gone" in capsys.readouterr().err  # reported as logging reports it
