"""服务发现：按 `[bot] services` 里的模块名加载服务，bot/ 不静态导入任何服务。

Each name in ``[bot] services`` (default ``["handlers"]``) is a module imported by
name. A module contributes, in this order of preference:

- ``SERVICES``: a list of `Service` or `Router` objects (handlers/__init__.py lists the
  built-in services, in the order /帮助 shows them; ``ROUTERS`` is read the same way);
- ``service``: one `bot.service.Service`;
- ``router``: one `bot.registry.Router`.

So a new service in its own package is switched on with
``services = ["handlers", "mypackage.myservice"]`` (or LIANXIN_BOT__SERVICES), without
editing any file under bot/.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache
from typing import Any

from bot.registry import Router

DEFAULT_SERVICES = ("handlers",)


class ServiceLoadError(ImportError):
    """A module named in [bot] services that cannot be imported or has no service."""


def as_router(obj: Any) -> Router:
    router = getattr(obj, "router", obj)
    if not isinstance(router, Router):
        raise ServiceLoadError(f"{obj!r} is neither a Service nor a Router")
    return router


@cache
def _load(names: tuple[str, ...]) -> tuple[Router, ...]:
    routers: list[Router] = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ServiceLoadError(f"bot.services: cannot import {name!r} ({exc})") from exc
        found: Iterable[Any]
        if hasattr(module, "SERVICES"):
            found = module.SERVICES
        elif hasattr(module, "ROUTERS"):
            found = module.ROUTERS
        elif hasattr(module, "service") or hasattr(module, "router"):
            found = [getattr(module, "service", None) or module.router]
        else:
            raise ServiceLoadError(f"bot.services: {name!r} has no SERVICES, service or router")
        for obj in found:
            router = as_router(obj)
            if all(r is not router for r in routers):
                routers.append(router)
    return tuple(routers)


def load_routers(names: Iterable[str] = DEFAULT_SERVICES) -> list[Router]:
    """The routers of the named service modules, each once, in order (imported once)."""
    return list(_load(tuple(names)))
