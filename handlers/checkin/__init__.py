"""党员服务：亮身份（登记）、报到 / 离开、接转组织关系、党务工作者的台账、隐私。

The rules live on `models.checkin`; each module here reads what was typed, calls the
model and says what happened (templates/zh_CN/checkin_*.j2, `service.say`). Notices to
other people go out after the commit (`service.notify`). The modules, in the order
/帮助 lists their commands: `register` (登记, 确认, 驳回), `checkins` (报到, 离开),
`transfer` (转接 …), `views` (流动党员, 待确认, 查人, 党员统计), `privacy` (我的信息,
删除我的信息), `jobs` (the monthly contact reminder).
"""

from __future__ import annotations

from handlers.checkin import checkins, jobs, privacy, register, transfer, views
from handlers.checkin.common import router, service

__all__ = ["checkins", "jobs", "privacy", "register", "router", "service", "transfer", "views"]
