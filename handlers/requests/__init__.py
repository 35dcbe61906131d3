"""订单式服务：提诉求、接单、转单、回单、退回、评价、催办、待补充、回访、督办、党务公开。

One service (`service`, `router`), its commands in modules by who uses them:

- filing.py     /诉求 and its dialog (Request)
- officers.py   /接单 /转单 /回单 /退回 /工单
- requester.py  /进度 /我的诉求 /评价 /催办, and /公开
- followup.py   /待补充 /补充 /回访 /督办, 附图
- asking.py     the Supplement and Visit dialogs, the image sent with a command
- jobs.py       deadline reminders, 超期督办, 未回访

The rules live on `models.requests` (ServiceRequest, the transition table in
models/requests/rules.py); these modules parse, call the model and say what happened.
"""

from __future__ import annotations

from handlers.requests.common import router, service

# isort: off
# The order the modules register their commands in is the /帮助 order.
from handlers.requests import filing, officers, requester, followup, jobs

# isort: on
from handlers.requests.filing import file_request

__all__ = [
    "file_request",
    "filing",
    "followup",
    "jobs",
    "officers",
    "requester",
    "router",
    "service",
]
