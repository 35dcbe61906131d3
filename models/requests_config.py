"""诉求服务的配置 [requests]：办理时限、提醒、回访（handlers/requests 声明）。"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import ConfigError
from models.workdays import parse_limit


@dataclass
class RequestsConfig:
    """订单式服务: time limits (办理时限) in hours per category, deadline reminders."""

    # category → hours; overrides the defaults in models/requests.py (CATEGORY_HOURS).
    hours: dict[str, int] = field(default_factory=dict)
    reminder_lead_hours: float = 12.0
    reminder_interval_minutes: int = 15
    # category (key or its Chinese name) → "3工作日" (official working days) or "48小时";
    # wins over `hours` (models/workdays.py).
    limits: dict[str, str] = field(default_factory=dict)
    # 回访: hours the requester has to answer after 回单; then 未回访 is recorded.
    visit_hours: float = 48.0
    # 待补充: how long a plain message in the filing chat counts as the answer (/补充 always).
    answer_window_hours: float = 72.0
    max_forwards: int = 3
    # 附图: an image the handler sends this long after /回单 is attached to the request.
    evidence_minutes: int = 10

    def validate(self) -> None:
        for category, hours in self.hours.items():
            if hours <= 0:
                raise ConfigError(f"requests.hours.{category}: expected a positive number of hours")
        if self.reminder_interval_minutes < 1:
            raise ConfigError("requests.reminder_interval_minutes: expected at least 1")
        for category, limit in self.limits.items():
            try:
                parse_limit(limit)
            except ValueError as exc:
                raise ConfigError(
                    f'requests.limits.{category}: expected e.g. "3工作日" or "48小时", '
                    f"got {limit!r}"
                ) from exc
        for name in ("visit_hours", "answer_window_hours"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"requests.{name}: expected a positive number of hours")
        if self.max_forwards < 1 or self.evidence_minutes < 0:
            raise ConfigError(
                "requests.max_forwards: expected at least 1; evidence_minutes: 0 or more"
            )
