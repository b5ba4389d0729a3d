"""Console chat: talk to the bot in a terminal, no account or token needed.

Buttons are shown as numbered choices; type the number to press one. Messages addressed to a Bawaslu
group are printed with a ``[grup …]`` prefix. Meta commands (not sent to the bot):
``::grup`` act as a member of the simulated Bawaslu group, ``::pribadi`` back to the private chat,
``::keluar`` quit (as do Ctrl-C and Ctrl-D).

Messages are printed as soon as the delivery loop sends them, also while the user is typing: on a
terminal the prompt is a prompt_toolkit prompt that redraws itself below each new message; on a pipe
or file (scripts, tests) lines are read by a daemon thread and the prompt is re-printed after a message
that arrived while it was shown. Attachments with stored content (``/ekspor``: CSV and PNG) are written
to a folder (``data/ekspor/`` by ``bot.app.chat``) and their path printed, so they can be opened.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.channels.splitting import shown_text
from bot.core.model import CONSOLE_GROUP_CHAT, CONSOLE_PRIVATE_CHAT, MAX_TEXT_CHARS, Incoming, Reply, label_word
from bot.outbox.ports import Claimed, SendResult
from bot.signals import stop_on_signals
from bot.texts import t

CONSOLE_USER = "console-user"
PROMPT_PRIVATE = "anda> "
PROMPT_GROUP = "grup> "
QUIT_WORDS = frozenset({"::keluar", "::exit", "::quit"})

MediaLoader = Callable[[int], Awaitable[tuple[bytes, str, str]]]  # media_id -> (bytes, content type, file name)


def render(reply: Reply, saved: dict[int, Path] | None = None) -> str:
    """Plain-text rendering shared by the console and WhatsApp: buttons become numbered choices.

    ``saved`` maps a media id to the file the console wrote it to; its path is shown with the attachment.
    """
    text = shown_text(reply.text, reply.html)
    lines = [text] if text else []
    for m in reply.media:
        label = {"photo": "foto", "document": "dokumen", "video": "video"}.get(m.kind, m.kind)
        line = t("console.attachment", label=label) + (f" {m.caption}" if m.caption else "")
        if saved and m.media_id is not None and m.media_id in saved:
            line += "\n" + t("console.saved", path=saved[m.media_id])
        lines.append(line)
    if reply.text_input and reply.buttons:  # typed text is the answer: buttons are typed as words, not digits
        words = [label_word(b.label, lower=False) for row in reply.buttons for b in row]
        lines.append(t("choice.type_words", words=", ".join(w for w in words if w)))
        return "\n".join(lines)
    n = 0
    for row in reply.buttons:
        for b in row:
            n += 1
            lines.append(f"  {n}. {b.label}")
    return "\n".join(lines)


class ConsoleScreen:
    """Where console output goes. Knows whether a plain-text prompt is showing, to re-print it after a
    message that arrived meanwhile (a prompt_toolkit prompt redraws itself)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out
        self.prompt: str | None = None

    @property
    def out(self) -> TextIO:
        return self._out if self._out is not None else sys.stdout  # resolved late: prompt_toolkit patches it

    def show_prompt(self, prompt: str) -> None:
        self.prompt = prompt
        self.out.write(prompt)
        self.out.flush()

    def print(self, text: str) -> None:
        out = self.out
        if self.prompt is not None:
            out.write("\n")
        out.write(text + "\n")
        if self.prompt is not None:
            out.write(self.prompt)
        out.flush()


class ConsoleSender:
    channel = "console"

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        screen: ConsoleScreen | None = None,
        export_dir: Path | None = None,
        load_media: MediaLoader | None = None,
    ) -> None:
        self.screen = screen or ConsoleScreen(out)
        self.export_dir = export_dir
        self.load_media = load_media
        self.delivered: list[tuple[str, Reply]] = []
        self.saved: list[Path] = []
        self._order = asyncio.Lock()  # FIFO: messages print in the order their sends started

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        async with self._order:
            self.delivered.append((msg.chat_id, reply))
            saved = await self._save_media(reply)
            prefix = "[grup Bawaslu] " if msg.is_group else ""
            body = render(reply, saved)
            self.screen.print("\n".join(f"{prefix}bot> {line}" if i == 0 else f"{prefix}     {line}"
                                        for i, line in enumerate(body.splitlines() or [""])))
            return SendResult("sent", external_id=str(len(self.delivered)))

    async def _save_media(self, reply: Reply) -> dict[int, Path]:
        """Write attachments with stored content to ``export_dir`` (never overwriting a file)."""
        saved: dict[int, Path] = {}
        if self.export_dir is None or self.load_media is None:
            return saved
        for m in reply.media:
            if m.media_id is None:
                continue
            data, _ctype, filename = await self.load_media(m.media_id)
            path = _free_path(self.export_dir, Path(filename).name or t("console.attachment_file", n=m.media_id))
            await asyncio.to_thread(_write, path, data)
            saved[m.media_id] = path.resolve()
            self.saved.append(path)
        return saved


def _free_path(folder: Path, name: str) -> Path:
    path = folder / name
    stem, suffix = path.stem, path.suffix
    n = 1
    while path.exists():
        path = folder / f"{stem}-{n}{suffix}"
        n += 1
    return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as f:
        f.write(data)


def console_incoming(text: str, *, group: bool, seq: int = 0) -> Incoming:
    return Incoming(
        channel="console",
        chat_id=CONSOLE_GROUP_CHAT if group else CONSOLE_PRIVATE_CHAT,
        user_id=CONSOLE_USER,
        chat_type="group" if group else "private",
        text=text[:MAX_TEXT_CHARS],
        update_key=None,
        truncated=len(text) > MAX_TEXT_CHARS,
    )


# --- reading lines --------------------------------------------------------------------------------

class _PlainLines:
    """Lines from a pipe, a file or a test stream, read by a daemon thread (so nothing waits for it at exit).

    A stream with a file descriptor is read with ``os.read`` (no buffered-reader lock held by the thread,
    which would abort the interpreter at shutdown); other streams with ``readline``.
    """

    def __init__(self, inp: TextIO, screen: ConsoleScreen) -> None:
        self.screen = screen
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        try:
            fd: int | None = inp.fileno()
        except (AttributeError, OSError, ValueError):
            fd = None
        # Typed lines are echoed by a terminal; from a pipe or file they are echoed here, so the transcript
        # reads like a conversation.
        self.echo = fd is None or not os.isatty(fd)
        target = self._read_fd if fd is not None else self._read_stream
        arg: Any = fd if fd is not None else inp
        threading.Thread(target=target, args=(arg,), name="console-input", daemon=True).start()

    def _put(self, line: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the console has ended
            self.loop.call_soon_threadsafe(self.queue.put_nowait, line)

    def _read_fd(self, fd: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buf = ""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            buf += decoder.decode(chunk, final=not chunk)
            *lines, buf = buf.split("\n")
            for line in lines:
                self._put(line)
            if not chunk:
                if buf:
                    self._put(buf)
                self._put(None)
                return

    def _read_stream(self, inp: TextIO) -> None:
        while True:
            line = inp.readline()
            if not line:
                self._put(None)
                return
            self._put(line.rstrip("\n"))

    async def read(self, prompt: str) -> str | None:
        self.screen.show_prompt(prompt)
        try:
            line = await self.queue.get()
        finally:
            self.screen.prompt = None
        self.screen.out.write("\n" if line is None else (line + "\n" if self.echo else ""))
        self.screen.out.flush()
        return line


class _Interrupted(Exception):
    """Ctrl-C at a terminal prompt (a KeyboardInterrupt must not escape a task: it would stop the loop)."""


class _TerminalLines:
    """A prompt_toolkit prompt on a real terminal: messages printed meanwhile appear above it."""

    def __init__(self) -> None:
        from prompt_toolkit import PromptSession

        self.session: Any = PromptSession()

    async def read(self, prompt: str) -> str | None:
        try:
            # handle_sigint=False: prompt_toolkit would replace the console's SIGINT handler and, on return,
            # remove it — a Ctrl-C while a reply is being printed would then be ignored. At the prompt the
            # terminal is raw, so Ctrl-C arrives as a key (KeyboardInterrupt) anyway.
            return str(await self.session.prompt_async(prompt, handle_sigint=False))
        except EOFError:  # Ctrl-D
            return None
        except KeyboardInterrupt:
            raise _Interrupted from None


def _is_terminal() -> bool:
    try:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            return False
        import prompt_toolkit  # noqa: F401
    except (ImportError, ValueError, AttributeError):
        return False
    return os.environ.get("TERM", "") != "dumb"


async def run_console(
    handle: Callable[[Incoming], Awaitable[object]],
    drain: Callable[[], Awaitable[object]],
    *,
    inp: TextIO | None = None,
    screen: ConsoleScreen | None = None,
    notices: Iterable[str] = (),
    terminal: bool | None = None,
) -> None:
    """Read lines until EOF, ``::keluar``, Ctrl-C or SIGTERM; each line is handled and its replies printed.

    Replies to a line are awaited (``drain``) before the next prompt; anything else the delivery loop sends
    (broadcasts, reminders, delivery reports, group messages) is printed whenever it arrives.
    """
    screen = screen or ConsoleScreen()
    use_terminal = _is_terminal() if terminal is None and inp is None else bool(terminal)
    stop = asyncio.Event()
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_signals(stop))
        source: _PlainLines | _TerminalLines
        if use_terminal:
            from prompt_toolkit.patch_stdout import patch_stdout

            source = _TerminalLines()
            stack.enter_context(patch_stdout(raw=True))
        else:
            source = _PlainLines(inp or sys.stdin, screen)
        screen.print(t("console.banner"))
        for notice in notices:
            screen.print(notice)
        await _loop(source, screen, handle, drain, stop)


async def _loop(
    source: _PlainLines | _TerminalLines,
    screen: ConsoleScreen,
    handle: Callable[[Incoming], Awaitable[object]],
    drain: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
) -> None:
    group = False
    stopped = asyncio.create_task(stop.wait())
    try:
        while True:
            if stop.is_set():
                screen.print(t("console.bye"))
                return
            reading = asyncio.create_task(source.read(PROMPT_GROUP if group else PROMPT_PRIVATE))
            await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():  # Ctrl-C / SIGTERM while waiting for input
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError, _Interrupted):
                    await reading
                screen.print("\n" + t("console.bye"))
                return
            try:
                line = reading.result()
            except _Interrupted:  # Ctrl-C at a terminal prompt
                screen.print(t("console.bye"))
                return
            if line is None:
                return
            meta = line.strip().lower()
            if meta in QUIT_WORDS:
                screen.print(t("console.bye"))
                return
            if meta == "::grup":
                group = True
                screen.print(t("console.to_group"))
                continue
            if meta == "::pribadi":
                group = False
                screen.print(t("console.to_private"))
                continue
            if not line.strip():
                continue
            await handle(console_incoming(line, group=group))  # one short transaction
            with contextlib.suppress(TimeoutError):  # a long backlog: the delivery loop goes on with it
                await drain()  # short in the console (one user); a Ctrl-C meanwhile ends the loop right after
    finally:
        stopped.cancel()
