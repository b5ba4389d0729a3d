"""Drive the console chat: in-process (a pipe in, a transcript out) or as a process (pipes or a terminal).

Every wait is on output: ``wait_for(pattern)`` returns as soon as the pattern has been printed after the
previous match, and fails with the unread transcript after ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO, cast

ROOT = Path(__file__).resolve().parents[3]
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without JAGANETRAL_* settings of the developer's shell, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGANETRAL_")}
    env.update(extra)
    return env


class _Text:
    def __init__(self) -> None:
        self.text = ""
        self.pos = 0

    def find(self, pattern: str, since: int | None = None) -> re.Match[str] | None:
        """Search from the end of the last match (or from ``since``, for output whose order is not fixed)."""
        m = re.compile(pattern).search(self.text, self.pos if since is None else since)
        if m is not None:
            self.pos = max(self.pos, m.end())
        return m

    def unread(self) -> str:
        return self.text[self.pos :][-3000:]


class Transcript(_Text):
    """A text stream for ``run_chat(out=...)`` in the test's own event loop."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def write(self, s: str) -> int:
        self.text += s
        self._changed.set()
        return len(s)

    def flush(self) -> None:
        pass

    async def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (m := self.find(pattern)) is None:
            self._changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not printed within {timeout} s; unread:\n{self.unread()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return m


class InProcessConsole:
    """``bot.app.chat.run_chat`` in a task, fed through a real pipe (read by the console's reader thread)."""

    def __init__(self, settings: Any, export_dir: Path, *, config_file: bool = False) -> None:
        from bot.app.chat import run_chat

        self.out = Transcript()
        rfd, self._wfd = os.pipe()
        self._rfile = os.fdopen(rfd, "r", encoding="utf-8")
        self.task = asyncio.create_task(
            run_chat(settings, config_file=config_file, inp=self._rfile, out=cast(TextIO, self.out),
                     export_dir=export_dir)
        )

    def send(self, line: str) -> None:
        os.write(self._wfd, (line + "\n").encode())

    async def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        if self.task.done():
            self.task.result()
        return await self.out.wait_for(pattern, timeout)

    async def say(self, line: str, expect: str, timeout: float = 30.0) -> re.Match[str]:
        self.send(line)
        return await self.wait_for(expect, timeout)

    async def close(self) -> None:
        if not self.task.done():
            self.send("::keluar")
        try:
            await asyncio.wait_for(self.task, 30)
        finally:
            os.close(self._wfd)
            self._rfile.close()


class ProcessConsole(_Text):
    """``python -m bot ...`` (or any command) with pipes; stdout and stderr are read by threads."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        super().__init__()
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.stderr = ""
        self._cond = threading.Condition()
        threading.Thread(target=self._pump, args=(self.proc.stdout, False), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, True), daemon=True).start()

    def _pump(self, stream: Any, err: bool) -> None:
        for raw in iter(lambda: stream.read1(65536), b""):
            with self._cond:
                if err:
                    self.stderr += raw.decode("utf-8", "replace")
                else:
                    self.text += raw.decode("utf-8", "replace")
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while (m := self.find(pattern)) is None:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._cond.wait(0.2)):
                    raise AssertionError(
                        f"{pattern!r} not printed (rc={self.proc.poll()}); unread:\n{self.unread()}\n"
                        f"stderr:\n{self.stderr[-2000:]}"
                    )
                self._cond.wait(min(left, 1.0))
        return m

    def say(self, line: str, expect: str, timeout: float = 60.0) -> re.Match[str]:
        self.send(line)
        return self.wait_for(expect, timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def bot_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def fresh_checkout(dest: Path) -> Path:
    """A copy of this checkout's files (tracked and new, not ignored: no config.toml, no data/) in ``dest``,
    sharing this checkout's .venv — what a newcomer has after ``git clone`` and the first ``run.sh``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if not src.is_file():
            continue  # deleted in the work tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
    (dest / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return dest


class TerminalConsole(_Text):
    """A command in a real pseudo-terminal (pexpect), as a person runs it; escape sequences are stripped."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        import pexpect

        super().__init__()
        self._pexpect = pexpect
        env = {**env, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}  # no cursor-position queries to answer
        self.child = pexpect.spawn(args[0], args[1:], cwd=str(cwd), env=env, dimensions=(50, 200),
                                   encoding="utf-8", codec_errors="replace")

    def _read(self, wait: float) -> bool:
        try:
            chunk = self.child.read_nonblocking(65536, timeout=wait)
        except self._pexpect.TIMEOUT:
            return True
        except self._pexpect.EOF:
            return False
        self.text += ANSI.sub("", chunk).replace("\r", "")
        return True

    def wait_for(self, pattern: str, timeout: float = 60.0, *, since: int | None = None) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while (m := self.find(pattern, since)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 1.0)) and self.find(pattern, since) is None):
                raise AssertionError(f"{pattern!r} not shown (alive={self.child.isalive()}); unread:\n{self.unread()}")
        return m

    def say(self, line: str, expect: str, timeout: float = 60.0) -> re.Match[str]:
        self.child.send(line + "\r")
        return self.wait_for(expect, timeout)

    def exit_status(self, timeout: float = 10.0) -> int | None:
        self.child.expect(self._pexpect.EOF, timeout=timeout)
        self.text += ANSI.sub("", self.child.before or "").replace("\r", "")
        self.child.close()
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
