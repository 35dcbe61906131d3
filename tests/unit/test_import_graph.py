"""The import graph (#12): bot/ imports no service; no service imports another's handlers.

Reads the source of every module under bot/ and handlers/ (the AST: nothing is imported,
no database). Every import counts, also one inside a function or under TYPE_CHECKING.

- bot/ is the platform: it may import bot.*, the shared models below, and libraries;
  never handlers.* nor a service's models (bot/services.py finds services by name).
- handlers/<svc> (a module or a package) may import its own package, bot.* and models.*;
  never another service's handlers (what two services need lives in models/ or bot/, or
  is offered with Router.provide). handlers/__init__.py lists the services and is exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Models of one service: bot/ must not import them (nor models.<svc>_config/_export).
SERVICE_MODELS = {
    "activities",
    "checkin",
    "claims",
    "grids",
    "redemption",
    "request_followup",
    "requests",
    "timebank",
    "waitlist",
}
# Models every part may use: people and organisations, inbound events and dialog state,
# deliveries, errors, broadcasts (the broadcaster is platform), paging, bridges, tokens,
# talk (groups' settings, residences: bot/intake.py, bot/community.py), the member roster,
# the workbench's sessions and audit (models/web.py), working days, and the generated
# district of `lianxin demo --scale` (models/district/: every service's rows, for demos
# and benchmarks).
SHARED_MODELS = {
    "bridges",
    "broadcasts",
    "deliveries",
    "district",
    "errors",
    "events",
    "migrations",
    "paging",
    "people",
    "roster",
    "talk",
    "tokens",
    "web",
    "workdays",
}

# Known exceptions, each with its reason (the lead decides when they go).
BOT_PENDING: dict[str, str] = {}


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module name the file imports (relative imports resolved)."""
    package = dotted(path) if path.name == "__init__.py" else dotted(path).rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # `from models import activities` imports the module models.activities.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def service_of_model(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "models" or len(parts) < 2:
        return None
    root = parts[1]
    if root in SHARED_MODELS:
        return None
    for svc in SERVICE_MODELS:
        if root == svc or root.startswith(f"{svc}_"):
            return svc
    return None


def bot_offences(path: Path) -> list[str]:
    return sorted(
        name
        for name in imported(path)
        if name == "handlers" or name.startswith("handlers.") or service_of_model(name)
    )


def handler_service(name: str) -> str:
    """handlers.requests.x → requests; handlers.grids.visits → grids."""
    return name.split(".")[1]


def handler_offences(path: Path) -> list[str]:
    own = handler_service(dotted(path))
    return sorted(
        name
        for name in imported(path)
        if name.startswith("handlers.") and handler_service(name) != own
    )


def bot_cases() -> list[object]:
    cases: list[object] = []
    for path in modules("bot"):
        name = rel(path)
        reason = BOT_PENDING.get(name, "")
        marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
        cases.append(pytest.param(path, id=name, marks=marks))
    return cases


@pytest.mark.parametrize("path", bot_cases())
def test_bot_imports_no_service(path: Path) -> None:
    assert bot_offences(path) == [], f"{rel(path)} imports a service"


def test_no_handler_imports_another_services_handlers() -> None:
    found = {
        rel(path): offences
        for path in modules("handlers")
        if path != ROOT / "handlers" / "__init__.py" and (offences := handler_offences(path))
    }
    assert found == {}


def test_the_rules_see_what_they_should() -> None:
    """The checks themselves: a service model, a shared one, a relative import."""
    assert service_of_model("models.activities") == "activities"
    assert service_of_model("models.requests_export") == "requests"
    assert service_of_model("models.grids.ladder") == "grids"
    assert service_of_model("models.people") is None
    assert service_of_model("models") is None
    assert handler_service("handlers.grids.visits") == "grids"
    assert "bot.registry" in imported(ROOT / "bot" / "service.py")
    assert not bot_offences(ROOT / "bot" / "runtime.py")
