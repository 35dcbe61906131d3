"""流动党员服务的配置 [checkin]（handlers/checkin 声明，bot/config.py 解析）。"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import ConfigError


@dataclass
class CheckinConfig:
    """流动党员服务: lost contact (失联) after N days; how often the contact reminder runs."""

    lost_days: int = 90
    reminder_interval_minutes: int = 360

    def validate(self) -> None:
        if self.lost_days < 1:
            raise ConfigError("checkin.lost_days: expected at least 1")
        if self.reminder_interval_minutes < 1:
            raise ConfigError("checkin.reminder_interval_minutes: expected at least 1")
