"""广播的正文：党务工作者写的模板（沙箱、子进程里限时限量渲染）与每日党课。"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bot.template_worker import TemplateLimitError, TemplateWorker


class ContentError(ValueError):
    """The broadcast text is not a template we can render; str() says where."""


class ContentLimitError(ContentError):
    """Rendering needs more time, output or memory than allowed (bot/template_worker.py)."""

    def __init__(self, kind: str, limit: float) -> None:
        super().__init__(f"{kind} limit {limit:g}")
        self.kind = kind
        self.limit = limit


@dataclass(frozen=True)
class Lesson:
    title: str
    body: str
    name: str  # file stem, the reference for "read" points

    @property
    def text(self) -> str:
        return f"【每日党课】{self.title}\n\n{self.body}".strip()


def load_lessons(folder: str | Path) -> list[Lesson]:
    """The lesson files (Markdown, `# 标题` on the first line), in file-name order."""
    path = Path(folder)
    if not path.is_absolute() and not path.is_dir():
        path = Path(__file__).resolve().parent.parent / path  # relative to the checkout
    if not path.is_dir():
        return []
    lessons = []
    for f in sorted(path.glob("*.md")):
        raw = f.read_text(encoding="utf-8").strip()
        first, _, body = raw.partition("\n")
        title = first.lstrip("#").strip() if first.startswith("#") else f.stem
        lessons.append(Lesson(title, body.strip() if first.startswith("#") else raw, f.stem))
    return lessons


def lesson_of_day(lessons: list[Lesson], day: datetime, tz: str) -> Lesson | None:
    """Rotate by local calendar day: every group gets the same lesson on the same day."""
    if not lessons:
        return None
    return lessons[day.astimezone(ZoneInfo(tz)).date().toordinal() % len(lessons)]


class Content:
    """Officers' broadcast text as a sandboxed jinja2 template, rendered in a child process
    with limits on time, output and memory (never on the event loop)."""

    def __init__(self, worker: TemplateWorker | None = None) -> None:
        self.env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self._compiled: OrderedDict[str, Any] = OrderedDict()
        self.worker = worker or TemplateWorker()

    def _template(self, source: str) -> Any:
        tpl = self._compiled.get(source)
        if tpl is None:
            tpl = self._compiled[source] = self.env.from_string(source)
            if len(self._compiled) > 256:
                self._compiled.popitem(last=False)
        return tpl

    def check(self, source: str) -> None:
        """Syntax only (compiling runs none of the officer's code)."""
        try:
            self._template(source)
        except TemplateError as exc:
            raise ContentError(str(exc)) from exc
        except RecursionError as exc:
            raise ContentLimitError("depth", 0) from exc

    def plain(self, source: str) -> str | None:
        """The text as rendering gives it back when it holds no template syntax (no
        variables to fill, no round trip to the worker), else None."""
        # Without "{" jinja2 has nothing to do; "\r" it would rewrite as "\n".
        if "{" in source or "\r" in source or len(source) > self.worker.max_chars:
            return None
        return source.strip()

    async def render(self, source: str, variables: dict[str, Any]) -> str:
        text = self.plain(source)
        if text is not None:
            return text
        self.check(source)
        try:
            return await self.worker.render(source, variables)
        except TemplateLimitError as exc:
            raise ContentLimitError(exc.kind, exc.limit) from exc
        except ValueError as exc:
            raise ContentError(str(exc)) from exc
