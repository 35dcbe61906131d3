"""处理函数：每个服务一个模块，各自注册命令；这里不写任何平台代码。"""

from handlers.activities import router as activities_router
from handlers.admin import router as admin_router
from handlers.broadcasts import router as broadcasts_router
from handlers.checkin import router as checkin_router
from handlers.grids import router as grids_router
from handlers.help import router as help_router
from handlers.login import router as login_router
from handlers.redemption import router as redemption_router
from handlers.requests import router as requests_router
from handlers.talk import router as talk_router
from handlers.timebank import router as timebank_router
from handlers.workbench import router as workbench_router

# Order is the order /帮助 lists commands in.
ROUTERS = [
    help_router,
    admin_router,
    requests_router,
    checkin_router,
    activities_router,
    timebank_router,
    redemption_router,
    broadcasts_router,
    talk_router,
    login_router,
    grids_router,
    workbench_router,
]
