"""结构化日志：每个入站事件一行 JSON；不写密钥，手机号、身份证号打码。"""

from __future__ import annotations

import json
import logging
import sys

from bot.text import mask_private

event_log = logging.getLogger("lianxin.event")


def log_event(**fields: object) -> None:
    event_log.info(mask_private(json.dumps(fields, ensure_ascii=False, default=str)))


class _MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        # Event lines were masked when they were built; mask everything else here.
        return text if record.name == event_log.name else mask_private(text)


def setup_logging(level: str = "INFO") -> None:
    # The logging docs' "Optimization" settings: we never log threads, processes or the
    # caller's source line, and finding them costs more than the event line itself.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The access log repeats what the event line says, and would log query-string signatures.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("tortoise").setLevel(logging.WARNING)
