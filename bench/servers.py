"""Start the servers under test as subprocesses on 127.0.0.1, and always stop them."""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.payloads import ONEBOT_SECRET, WECHAT_AES_KEY, WECHAT_APPID, WECHAT_TOKEN
from bot.clock import ENV_NOW, Clock, ShiftedClock, parse_now

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def cpu_seconds(pid: int) -> float:
    """CPU time of a process so far, all its threads, to the nanosecond (Linux schedstat)."""
    total = 0
    with contextlib.suppress(OSError):  # the process or one of its threads just ended
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far, all threads, to the nanosecond (Linux)."""
        return cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def channel_exists(name: str) -> bool:
    return importlib.util.find_spec(f"bot.channels.{name}") is not None


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the bench process dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_clock: list[Clock] = []  # the one a bench runs on, while bench_clock's block runs


@contextlib.contextmanager
def bench_clock(at: str) -> Iterator[Clock]:
    """A clock started at `at` (ISO 8601), running on in real time, for this block: every
    process started meanwhile gets LIANXIN_NOW at its time then (their clocks agree to
    the second); code in this process is given it (current_clock)."""
    _clock[:] = [ShiftedClock(parse_now(at))]
    try:
        yield _clock[0]
    finally:
        _clock.clear()


def current_clock() -> Clock:
    """The bench's clock (bench_clock), or the machine's."""
    return _clock[0] if _clock else Clock()


def _clean_env() -> dict[str, str]:
    # The bench's own config file decides; the caller's LIANXIN_* must not leak in. The
    # clock does, when the bench runs on one: the time its district was generated around.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIANXIN_")}
    if _clock:
        env[ENV_NOW] = _clock[0].now().isoformat()
    env["PYTHONPATH"] = str(REPO)
    return env


def lianxin_config(workdir: Path, port: int, wechat: bool, onebot: bool) -> Path:
    path = workdir / "lianxin.toml"
    path.write_text(
        f"""[server]
host = "127.0.0.1"
port = {port}

[database]
url = "sqlite://{workdir}/lianxin.sqlite3"

[console]
enabled = false

[wechat]
enabled = {str(wechat).lower()}
mode = "compat"
token = "{WECHAT_TOKEN}"
encoding_aes_key = "{WECHAT_AES_KEY}"
appid = "{WECHAT_APPID}"

[onebot]
enabled = {str(onebot).lower()}
secret = "{ONEBOT_SECRET}"
""",
        "utf-8",
    )
    return path


def lianxin_cmd() -> list[str]:
    script = Path(PYTHON).parent / "lianxin"
    return [str(script)] if script.exists() else [PYTHON, "-m", "bot.cli"]


class Servers(contextlib.AbstractContextManager):
    """Owns every subprocess it starts; stops all of them on exit, whatever happened."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Server] = []

    def start(self, name: str, argv: list[str], port: int, cwd: Path) -> Server:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the bench, which stops them in order
                preexec_fn=_die_with_parent,
            )
        server = Server(name, proc, port, log)
        self.started.append(server)
        return server

    def reference(self, kind: str) -> Server:
        port = free_port()
        return self.start(kind, [PYTHON, "-m", "bench.refservers", kind, str(port)], port, REPO)

    def lianxin(self, wechat: bool, onebot: bool) -> Server:
        port = free_port()
        config = lianxin_config(self.workdir, port, wechat, onebot)
        # --config after the subcommand: `lianxin --config X serve` drops X (argparse
        # parents: the subparser's default None wins).
        cfg = ["--config", str(config)]
        for step in (["db", "upgrade"], ["demo"]):
            done = subprocess.run(
                [*lianxin_cmd(), *step, *cfg],
                cwd=self.workdir,
                env=_clean_env(),
                timeout=120,
                stdin=subprocess.DEVNULL,
                capture_output=True,
            )
            if done.returncode:
                tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(
                    f"lianxin {' '.join(step)} failed (exit {done.returncode}):\n" + "\n".join(tail)
                )
        argv = [*lianxin_cmd(), "serve", *cfg, "--host", "127.0.0.1", "--port", str(port)]
        return self.start("lianxin", argv, port, self.workdir)

    @staticmethod
    def wait_ready(server: Server, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.base}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{server.name} not ready after {timeout:.0f} s:\n{server.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        # Last started, first stopped: the bot finishes its sends before the fakes go.
        for s in reversed(self.started):
            if s.proc.poll() is None:
                s.proc.terminate()
            try:
                s.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait(timeout=5)
