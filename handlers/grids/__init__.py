"""网格化管理（一个独立的服务）：走访、我的网格、网格统计、每月走访提醒、失联党员排查。

The rules live on `models.grids`; these modules parse, call the model and say.
"""

from handlers.grids import ladder, ledgers, reminders, views, visits  # noqa: F401  (they register)
from handlers.grids.common import router

__all__ = ["router"]
