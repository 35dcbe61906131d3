"""模板：机器人说的每一句话都来自 templates/zh_CN/*.j2。

Loaded once per process; chat text is not HTML, so autoescape is off.
Command descriptions (summary, usage, example) live beside the templates in
commands.toml, so the words stay out of the code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Hashable
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from bot.clock import fmt

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "templates" / "zh_CN"


class Templates:
    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else DEFAULT_DIR
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.directory),
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
        )
        # {{ some_datetime | when }}: a stored (UTC) time on the configured clock, for
        # templates rendered without a formatter (refused.j2 gets only the error's details).
        self.env.filters["when"] = fmt
        # fmt(dt): the same as a function, which services' templates call. Globals are
        # set here only: render() copies them into each template once.
        self.env.globals["fmt"] = fmt
        self._memo: dict[Hashable, str] = {}
        self._loaded: dict[str, jinja2.Template] = {}  # by name (auto_reload is off anyway)
        self._vocabularies: dict[str, dict[str, Any]] = {}

    def render(self, _template: str, /, **variables: Any) -> str:
        template = self._loaded.get(_template)
        if template is None:
            template = self.env.get_template(f"{_template}.j2")
            # jinja chains the template's globals over the environment's and walks the
            # chain on every render; ours are all set in __init__: one flat dict.
            template.globals = dict(template.globals)
            self._loaded[_template] = template
        return template.render(**variables).strip()

    def memo(self, key: Hashable, produce: Callable[[], str]) -> str:
        """A rendered text that depends only on `key` (e.g. the /帮助 menu of a role), kept."""
        text = self._memo.get(key)
        if text is None:
            text = produce()
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[key] = text
        return text

    @cached_property
    def commands(self) -> dict[str, dict[str, str]]:
        """Per command key: summary, usage, example; and the services' labels
        (commands.toml, then each commands/<service>.toml beside it: a service may keep
        its commands and labels in a file of its own; a key may be in one file only)."""
        path = self.directory / "commands.toml"
        data: dict[str, dict[str, str]] = (
            tomllib.loads(path.read_text("utf-8")) if path.exists() else {}
        )
        folder = self.directory / "commands"
        for extra in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            for key, value in tomllib.loads(extra.read_text("utf-8")).items():
                if key in data:
                    raise ValueError(f"commands/{extra.name}: [{key}] is defined twice")
                data[key] = value
        return data

    def vocabulary(self, name: str) -> dict[str, Any]:
        """A TOML file beside the templates (menu.toml, intents.toml), read once."""
        data = self._vocabularies.get(name)
        if data is None:
            data = tomllib.loads((self.directory / f"{name}.toml").read_text("utf-8"))
            self._vocabularies[name] = data
        return data

    def command_info(self, key: str) -> dict[str, str]:
        info = self.commands.get(key, {})
        return {
            "summary": info.get("summary", ""),
            "usage": info.get("usage", ""),
            "example": info.get("example", ""),
            "detail": info.get("detail", ""),
        }
