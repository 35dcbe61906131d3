"""领域规则拒绝：模型抛出 DomainError(code, **details)，调度器用 refused.j2 渲染成一句话。

Raising it inside a command's transaction rolls back every write of that
command, so a refusal never leaves a half-written record.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details
