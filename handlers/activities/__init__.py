"""组织生活菜单：发布活动、菜单、报名 / 候补、现场签到、时间银行、积分排行、三会一课.

The rules live on `models.activities`; these modules parse what people type (times
through bot/timeparse.py), check who is asking, call the models and say what happened
(templates/zh_CN/act_*.j2). Notices to other people go out after the commit
(Service.notify); reminders and attendance summaries are periodic jobs that return
pushes (bot.outbound.Push), sent once per key.

- `publish`: /发布活动 (the `Publish` dialog, or one line), /修改活动, /取消活动;
- `signup`: /活动 (the list, one activity), /报名, /取消报名, /我的活动;
- `attend`: /签到码, /签到;
- `timebank`: /时间银行, /兑换, /积分, /排行;
- `compliance`: /三会一课;
- `jobs`: reminders and summaries.
"""

from handlers.activities import attend, compliance, jobs, publish, signup, timebank  # noqa: F401
from handlers.activities.common import router, service

__all__ = ["router", "service"]
