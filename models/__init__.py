"""数据模型。One tortoise app, ``models``; the modules below are its model modules.

State transitions and domain rules live on the models (see people.py).
"""

MODEL_MODULES = [
    "models.people",
    "models.events",
    "models.tokens",
    "models.deliveries",
    "models.requests",
    "models.checkin",
    "models.broadcasts",
    "models.activities",
    "models.claims",
    "models.redemption",
    "models.web",
    "models.grids.households",
    "models.grids.ladder",
    "models.talk",
    "models.bridges",
    "models.replies",
]
