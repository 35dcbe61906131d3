"""组织生活服务的配置 [activities]：提醒、签到码、积分、时间银行（handlers/activities 声明）。"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import ConfigError


@dataclass
class ActivitiesConfig:
    """组织生活菜单: reminders, check-in codes, points, the menu's page size."""

    # People signed up are reminded this long before the start.
    reminder_lead_hours: float = 2.0
    reminder_interval_minutes: int = 5
    # The check-in code works from this long before the start until the end.
    code_open_minutes: int = 30
    # This many wrong codes in a row lock the person out for code_lock_minutes.
    code_lock_attempts: int = 5
    code_lock_minutes: int = 10
    points_attendance: int = 5
    points_per_volunteer_hour: int = 10
    # For issue #7's daily lesson (award_points(person_id, "lesson", points, ref)).
    points_lesson: int = 1
    page_size: int = 10
    # A person promoted from the waitlist confirms (/确认参加) within this many hours (or
    # half the time left before the start, if shorter); else the seat passes on.
    confirm_window_hours: float = 12.0
    # Cancelling this close to the start counts as absence in the attendance figures.
    late_cancel_hours: float = 2.0
    # 核销码 from /兑换 物品 are valid this many days.
    redemption_valid_days: int = 30

    def validate(self) -> None:
        if self.reminder_lead_hours <= 0:
            raise ConfigError("activities.reminder_lead_hours: expected a positive number of hours")
        for name in ("reminder_interval_minutes", "code_lock_attempts", "code_lock_minutes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"activities.{name}: expected at least 1")
        if not 1 <= self.page_size <= 50:
            raise ConfigError(f"activities.page_size: expected 1-50, got {self.page_size}")
        for name in ("code_open_minutes", "points_attendance", "points_per_volunteer_hour"):
            if getattr(self, name) < 0:
                raise ConfigError(f"activities.{name}: expected 0 or more")
        if self.points_lesson < 0:
            raise ConfigError("activities.points_lesson: expected 0 or more")
        if (
            self.confirm_window_hours <= 0
            or self.late_cancel_hours < 0
            or self.redemption_valid_days < 1
        ):
            raise ConfigError(
                "activities.confirm_window_hours: expected more than 0; late_cancel_hours: 0 "
                "or more; redemption_valid_days: at least 1"
            )
