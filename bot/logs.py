"""结构化日志：每个入站事件一行 JSON；不写密钥，手机号、身份证号打码。

Every event writes one line, so the line is cheap (issue #15's profile had logging at
6–10 % of a request): only the values that can hold a number people typed or were given
(ids) are masked, not the whole line; the time prefix is formatted once a second; and
lines written while the event loop runs go out in one write at the end of its pass
instead of one write each.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

from bot.fastjson import dumps
from bot.text import mask_private

event_log = logging.getLogger("lianxin.event")
_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_event(**fields: object) -> None:
    if not event_log.isEnabledFor(logging.INFO):
        return
    masked = {k: mask_private(v) if isinstance(v, str) else v for k, v in fields.items()}
    line = dumps(masked)
    handler = _direct_handler()
    if handler is None:
        event_log.info(line)
    else:  # the line the record would give, without building one (issue #15: ~6 µs an event)
        handler.emit_event(line)


def _direct_handler() -> _PassHandler | None:
    """setup_logging's handler when it alone would write the event line unchanged: no
    filter or other handler on the way (a test's capture, a user's config) wants records."""
    handler = _installed
    if handler is None or handler.filters or not isinstance(handler.formatter, _MaskingFormatter):
        return None
    logger: logging.Logger | None = event_log
    while logger is not None:
        if logger.filters or logger.disabled:
            return None
        if logger.handlers:  # the first logger with handlers: only ours, at INFO
            alone = logger.handlers == [handler] and handler.level <= logging.INFO
            return handler if alone else None
        if not logger.propagate:
            return None
        logger = logger.parent
    return None


class _MaskingFormatter(logging.Formatter):
    def __init__(self, fmt: str = _FORMAT) -> None:
        super().__init__(fmt)
        self._fast = fmt == _FORMAT  # the event line's shortcut writes exactly _FORMAT
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return self._time(record.created, record.msecs)

    def _time(self, created: float, msecs: float) -> str:
        second = int(created)
        if second != self._second:  # what Formatter.formatTime does, once a second
            self._stamp = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return f"{self._stamp},{int(msecs):03d}"  # default_msec_format

    def event_line(self, message: str) -> str | None:
        """The event line for ``message`` as format() writes it for a record made now;
        None unless this formatter writes exactly _FORMAT."""
        if not self._fast:
            return None
        created = time.time()  # what LogRecord.__init__ takes
        msecs = int((created - int(created)) * 1000) + 0.0
        return f"{self._time(created, msecs)} INFO {event_log.name} {message}"

    def format(self, record: logging.LogRecord) -> str:
        if self._fast and record.name == event_log.name and not (record.args or record.exc_info):
            # The event line (masked when it was built): _FORMAT without the general machinery.
            record.message = record.msg
            return f"{self.formatTime(record)} {record.levelname} {record.name} {record.msg}"
        return mask_private(super().format(record))


class _PassHandler(logging.StreamHandler[TextIO]):
    """A stream handler that, inside a running event loop, writes what one pass of the
    loop logged in one write when the pass ends (a line is never held longer than that);
    outside a loop, and for warnings and errors, it writes at once."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._held: list[str] = []
        self._flush_on: asyncio.AbstractEventLoop | None = None  # a flush is scheduled there

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._write(self.format(record) + self.terminator, record.levelno < logging.WARNING)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def emit_event(self, message: str) -> None:
        """An INFO line of the event log, formatted as ``emit`` would (log_event's path)."""
        assert isinstance(self.formatter, _MaskingFormatter)
        line = self.formatter.event_line(message)
        if line is None:
            event_log.info(message)
            return
        try:
            with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
                self._write(line + self.terminator, True)
        except RecursionError:
            raise
        except Exception:  # as emit(): a failing stream never fails the message
            self.handleError(
                logging.LogRecord(event_log.name, logging.INFO, "", 0, message, None, None)
            )

    def _write(self, line: str, may_wait: bool) -> None:
        if may_wait:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                if self._flush_on is not loop:
                    loop.call_soon(self.flush)
                    self._flush_on = loop
                self._held.append(line)
                return
        self._held.append(line)
        self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._flush_on = None
            if self._held:
                text, self._held = "".join(self._held), []
                self.stream.write(text)
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()


_installed: _PassHandler | None = None  # setup_logging's handler


def setup_logging(level: str = "INFO") -> None:
    # The logging docs' "Optimization" settings: we never log threads, processes or the
    # caller's source line, and finding them costs more than the event line itself.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    global _installed
    handler = _installed = _PassHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The access log repeats what the event line says, and would log query-string signatures.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(logging.WARNING)
