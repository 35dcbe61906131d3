"""拒绝的说法：先找处理这条消息的服务自己的模板，再找公共的，再找其余服务的。

A `DomainError(code, **details)` becomes one sentence. Each service keeps its codes in
its own template (`Router.refusals`, e.g. templates/zh_CN/refused/requests.j2: an
``{% if code == ... %}`` chain that renders nothing for a code it does not know).
templates/zh_CN/refused.j2 holds the codes every service shares (unknown_org,
not_officer_of, …) and the last resort ("这个操作没有执行（code）").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot.templates import Templates

COMMON = "refused"
log = logging.getLogger("lianxin.refusals")


class Refusals:
    def __init__(self, templates: Templates, by_service: Mapping[str, str]) -> None:
        self.templates = templates
        self.by_service = dict(by_service)

    def text(self, code: str, details: Mapping[str, Any], service: str = "") -> str:
        """The sentence for `code`: the handling service's text, the common ones, then any
        service's (an error raised by another service's model), else the last resort."""
        first = self.by_service.get(service)
        others = [t for t in dict.fromkeys(self.by_service.values()) if t != first]
        for template in [first] if first else []:
            if text := self.templates.render(template, code=code, **details):
                return text
        if text := self.templates.render(COMMON, code=code, fallback=False, **details):
            return text
        for template in others:
            if text := self.templates.render(template, code=code, **details):
                return text
        # A code no template knows is a defect: the person reads a plain sentence (never
        # the code), the log says which one.
        log.warning("refusal %r has no text in any template", code)
        return self.templates.render(COMMON, code=code, fallback=True, **details)
