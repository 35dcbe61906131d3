"""党务工作台上看全局的页面：总览、工单、审核、人员、活动（/admin/ 下）。

The workbench's platform (log-in, sessions, CSRF, imports, ledgers, audit) is bot/web/;
these pages read several services' models (the overview's figures, a person's page),
so they are a service of their own, mounted through `Router.pages`.
"""

from __future__ import annotations

from bot.service import Service
from handlers.workbench import activities, approvals, overview, people, requests

service = Service("workbench")
router = service.router
router.pages = [
    overview.routes,
    requests.routes,
    approvals.routes,
    people.routes,
    activities.routes,
]
