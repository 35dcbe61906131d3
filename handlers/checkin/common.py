"""党员服务共用：服务对象（路由、标签、说话）、通知、手机号按范围显示。"""

from __future__ import annotations

from typing import Any

from bot.context import Ctx
from bot.service import Service
from models.checkin import mask_phone
from models.checkin_config import CheckinConfig
from models.checkin_export import member_rows

PAGE = 10


def _variables(ctx: Ctx) -> dict[str, Any]:
    """Every reply may show a phone: in full to the officers over the person, else masked."""
    return {
        "phone_for": lambda p, phone=None: p.phone_shown_to(ctx.caller, phone),
        "mask": mask_phone,
    }


service = Service(
    "checkin",
    labels="checkin_labels",
    purpose="checkin",
    variables=_variables,
    refusals="refused/checkin",  # its refusal texts (bot/refusals.py)
)
router = service.router
router.section("checkin", CheckinConfig)  # [checkin] in the config (bot/config.py)
router.export("members", periods=False, workbench=True)(member_rows)  # bot/exports.py
say = service.say
labels = service.labels


def notify(ctx: Ctx, targets: list[str], key: str, **variables: Any) -> None:
    """A checkin_notice.j2 to `targets` once the command commits (phones masked)."""
    service.notify(ctx, targets, "checkin_notice", key, mask=mask_phone, **variables)
