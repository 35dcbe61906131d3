"""A broadcast text without template syntax is given back as the worker would render it,
without a round trip to the worker (bot/broadcaster/content.py `Content.plain`)."""

from __future__ import annotations

import pytest

from bot.broadcaster.content import Content
from bot.template_worker import TemplateWorker

PLAIN = [
    "今晚七点停水，请提前储水。",
    "  前后有空格\n\n",
    "\u3000全角空格\u3000",
    "两行\n第二行\n",
    "右括号}}、%}、#} 不是语法",
    "\u2028分隔符\u2029",
    "",
]


class NoWorker(TemplateWorker):
    async def render(self, source, variables):  # type: ignore[no-untyped-def]
        raise AssertionError(f"{source!r} went to the worker")


async def test_plain_texts_render_as_the_worker_renders_them() -> None:
    worker = TemplateWorker()
    fast = Content(NoWorker())
    try:
        for text in PLAIN:
            assert fast.plain(text) is not None
            assert await fast.render(text, {}) == await worker.render(text, {})
    finally:
        await worker.close()


@pytest.mark.parametrize(
    "source", ["今天是{{星期}}", "{% if 1 %}是{% endif %}", "{# 注 #}正文", "回车\r\n换行"]
)
def test_templates_and_carriage_returns_go_to_the_worker(source: str) -> None:
    assert Content(NoWorker()).plain(source) is None


def test_a_text_over_the_output_limit_goes_to_the_worker() -> None:
    content = Content(NoWorker(max_chars=10))
    assert content.plain("十个字以内") == "十个字以内"
    assert content.plain("超" * 11) is None  # the worker refuses it with its limit
