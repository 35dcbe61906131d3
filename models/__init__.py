"""数据模型。One tortoise app, ``models``; the modules below are its model modules.

State transitions and domain rules live on the models (see people.py).
"""

import functools
import sys
from pathlib import Path

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


def _skip_unused_comment_scan() -> None:
    """tortoise reads each model class's source for `#:` field comments (inspect.getsource
    parses the whole module per class: ~0.7 s of a 1.5 s cold start). Ours document fields
    with description=, so a module without "#:" is not scanned; one with it still is."""
    import tortoise.models

    original = tortoise.models._get_comments

    @functools.cache
    def has_field_comments(path: str) -> bool:
        try:
            return "#:" in Path(path).read_text("utf-8")
        except OSError:
            return True

    def get_comments(cls: type) -> dict[str, str]:
        path = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if path and not has_field_comments(path):
            return {}
        return original(cls)  # type: ignore[arg-type]

    tortoise.models._get_comments = get_comments


_skip_unused_comment_scan()
