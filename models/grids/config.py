"""网格化管理的配置 [grids]（handlers/grids 声明，bot/config.py 解析）。"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import ConfigError


@dataclass
class GridsConfig:
    """网格化管理: quotas (户数 per grid member, 走访 per household a year), household tags,
    the monthly reminder, the lost-contact ladder (失联党员排查)."""

    households_per_worker: int = 20
    visits_per_year: int = 4
    tags: list[str] = field(default_factory=lambda: ["独居老人", "困难家庭", "党员户", "出租户"])
    # The monthly reminder job runs this often; it sends during the first days of a month.
    reminder_interval_minutes: int = 60
    reminder_days: int = 7
    # Lost-contact ladder: 疑似失联 after this many unreached months, confirmation after.
    suspect_months: int = 3
    confirm_months: int = 6

    def validate(self) -> None:
        for name in ("households_per_worker", "visits_per_year", "reminder_interval_minutes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"grids.{name}: expected at least 1")
        if not 1 <= self.reminder_days <= 28:
            raise ConfigError(f"grids.reminder_days: expected 1-28, got {self.reminder_days}")
        if not 1 <= self.suspect_months < self.confirm_months:
            raise ConfigError("grids.suspect_months: expected at least 1 and below confirm_months")
