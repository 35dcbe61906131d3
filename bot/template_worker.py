"""干部写的广播模板在独立子进程里渲染：限时、限输出长度、限内存，超限即拒绝，不拖住机器人。

Officers write broadcast texts as jinja2 (/预览, /广播, /定时). A template
is code: ``{% for a in range(99999) %}{% for b in range(99999) %}`` runs for
minutes and ``{{ 'x' * 1000000000 }}`` takes a gigabyte. Rendering on the
event loop stalled every channel and /healthz, so templates render here:

* in one long-lived child process (``python -m bot.template_worker``), one
  request at a time, JSON lines over stdin/stdout;
* the child caps its address space (RLIMIT_AS) and CPU seconds (RLIMIT_CPU),
  renders in a jinja2 sandbox where ``*`` and ``range`` refuse to build more
  than ``max_chars`` items, and stops as soon as the output passes
  ``max_chars``;
* the parent waits ``timeout`` seconds at most, then kills the child (a new
  one starts on the next render) and refuses the template.

`TemplateLimitError` says which limit was hit; the caller shows it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import operator
import sys
from typing import Any

log = logging.getLogger("lianxin.templates")

# Room for one request/answer line: the output limit in JSON (escapes) plus the variables.
_LINE_LIMIT = 8 * 1024 * 1024


class TemplateLimitError(Exception):
    """The template needs more than allowed: ``kind`` is time, output, memory or depth,
    ``limit`` the allowance (seconds, characters, MB); refused.j2 words it."""

    def __init__(self, kind: str, limit: float = 0) -> None:
        super().__init__(f"{kind} limit {limit:g}")
        self.kind = kind
        self.limit = limit


class TemplateWorker:
    def __init__(self, timeout: float = 2.0, max_chars: int = 20_000, memory_mb: int = 256) -> None:
        self.timeout = timeout
        self.max_chars = max_chars
        self.memory_mb = memory_mb
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def _start(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.template_worker",
                str(self.max_chars),
                str(self.memory_mb),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
                start_new_session=True,  # a Ctrl-C or SIGTERM is for the server only
            )
        return self._proc

    async def render(self, source: str, variables: dict[str, Any]) -> str:
        """The rendered text; TemplateLimitError, or ValueError with jinja2's message."""
        async with self._lock:
            proc = await self._start()
            assert proc.stdin is not None and proc.stdout is not None
            request = json.dumps({"source": source, "variables": variables}, ensure_ascii=False)
            try:
                proc.stdin.write(request.encode("utf-8") + b"\n")
                await proc.stdin.drain()
                line = await asyncio.wait_for(proc.stdout.readline(), self.timeout)
            except TimeoutError:
                await self.close()
                raise TemplateLimitError("time", self.timeout) from None
            except (OSError, ValueError, asyncio.LimitOverrunError):
                await self.close()
                raise TemplateLimitError("output", self.max_chars) from None
            if not line:  # killed by its own limits
                await self.close()
                raise TemplateLimitError("memory", self.memory_mb)
        answer = json.loads(line)
        if "limit" in answer:
            kind = answer["limit"]
            allowed = {"output": self.max_chars, "memory": self.memory_mb}.get(kind, 0)
            raise TemplateLimitError(kind, allowed)
        if "error" in answer:
            raise ValueError(answer["error"])
        return str(answer["text"])

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()


# -- the child process ------------------------------------------------------------


def _sandbox(max_chars: int) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class Bounded(SandboxedEnvironment):
        intercepted_binops = frozenset(["*", "**"])

        def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
            if operator_ == "**":
                if isinstance(right, int) and abs(right) > 64:
                    raise MemoryError
                return operator.pow(left, right)
            if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
                seq, times = (left, right) if not isinstance(left, int) else (right, left)
                if isinstance(times, int) and len(seq) * times > max_chars:
                    raise MemoryError
            return operator.mul(left, right)

    env = Bounded(undefined=StrictUndefined, autoescape=False)

    def bounded_range(*args: int) -> range:
        r = range(*args)
        if len(r) > max_chars:
            raise MemoryError
        return r

    env.globals["range"] = bounded_range
    return env


def _serve(max_chars: int, memory_mb: int) -> None:
    import resource

    from jinja2 import TemplateError

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    env = _sandbox(max_chars)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            template = env.from_string(request["source"])
            parts, size = [], 0
            for chunk in template.generate(**request["variables"]):
                size += len(chunk)
                if size > max_chars:
                    raise OverflowError
                parts.append(chunk)
            answer: dict[str, str] = {"text": "".join(parts).strip()}
        except MemoryError:
            answer = {"limit": "memory"}
        except OverflowError:
            answer = {"limit": "output"}
        except TemplateError as exc:
            answer = {"error": str(exc)}
        except RecursionError:
            answer = {"limit": "depth"}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
