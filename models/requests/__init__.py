"""订单式服务的模型：诉求工单、全过程、附图、编号计数器，以及它们的规则。

- rules.py      pure: the transition table, limits, the clock's pause and resume,
                回访 answers and rates (tests/unit/, no database)
- request.py    ServiceRequest: filing and the transitions
- access.py     who may act (the table's actor), who may view (a mixin of ServiceRequest)
- events.py     RequestEvent (the history), RequestCounter (numbers)
- followup.py   待补充, 回访, 转单 guard, 督办, 超期督办, 附图 (a mixin of ServiceRequest)
- queries.py    queue, my requests, history, the filing chat (a mixin of ServiceRequest)
- reminders.py  the deadline reminders due at a tick
- figures.py    党务公开 (monthly figures)

``from models.requests import ServiceRequest, …`` stays the public path.
"""

from models.requests.events import RequestCounter, RequestEvent
from models.requests.figures import monthly_figures, visit_figures
from models.requests.followup import RequestAttachment
from models.requests.request import NUMBER_RE, ServiceRequest
from models.requests.rules import (
    CATEGORY_HOURS,
    DEFAULT_CATEGORY,
    DONE_STATUSES,
    FORWARD_KINDS,
    LOW_SCORE,
    MAX_FORWARDS,
    OPEN_STATUSES,
    REMINDER_LEAD_HOURS,
    RUNNING_STATUSES,
    STATUSES,
    TRANSITIONS,
    VISIT_ANSWERS,
    VISIT_CHOICES,
    VISIT_HOURS,
    category_limits,
    guess_category,
    visit_choice,
)

scope_q = ServiceRequest.scope_q
expire_visits = ServiceRequest.expire_visits


__all__ = [
    "CATEGORY_HOURS",
    "DEFAULT_CATEGORY",
    "DONE_STATUSES",
    "FORWARD_KINDS",
    "LOW_SCORE",
    "MAX_FORWARDS",
    "NUMBER_RE",
    "OPEN_STATUSES",
    "REMINDER_LEAD_HOURS",
    "RUNNING_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "VISIT_ANSWERS",
    "VISIT_CHOICES",
    "VISIT_HOURS",
    "RequestAttachment",
    "RequestCounter",
    "RequestEvent",
    "ServiceRequest",
    "category_limits",
    "expire_visits",
    "guess_category",
    "monthly_figures",
    "scope_q",
    "visit_choice",
    "visit_figures",
]
