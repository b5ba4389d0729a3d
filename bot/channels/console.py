"""Console chat: talk to the bot in a terminal, no account or token needed.

Buttons are shown as numbered choices; type the number to press one. Messages addressed to a Bawaslu
group are printed with a ``[grup …]`` prefix. Meta commands (not sent to the bot):
``::grup`` act as a member of the simulated Bawaslu group, ``::pribadi`` back to the private chat,
``::keluar`` quit.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from collections.abc import Callable
from typing import TextIO

from bot.core.model import Incoming, Reply, label_word
from bot.texts import t
from broadcasts.delivery import SendResult
from broadcasts.outbox import Claimed

CONSOLE_USER = "console-user"
CONSOLE_PRIVATE_CHAT = "console-user"
CONSOLE_GROUP_CHAT = "console-group"
_TAG = re.compile(r"<[^>]+>")


def render(reply: Reply) -> str:
    """Plain-text rendering shared by the console and WhatsApp: buttons become numbered choices."""
    text = html.unescape(_TAG.sub("", reply.text)) if reply.html else reply.text
    lines = [text] if text else []
    for m in reply.media:
        label = {"photo": "foto", "document": "dokumen", "video": "video"}.get(m.kind, m.kind)
        lines.append(f"[lampiran: {label}]" + (f" {m.caption}" if m.caption else ""))
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


class ConsoleSender:
    channel = "console"

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.delivered: list[tuple[str, Reply]] = []

    async def send(self, msg: Claimed, reply: Reply) -> SendResult:
        self.delivered.append((msg.chat_id, reply))
        prefix = "[grup Bawaslu] " if msg.is_group else ""
        body = render(reply)
        self.out.write("\n".join(f"{prefix}bot> {line}" if i == 0 else f"{prefix}     {line}"
                                 for i, line in enumerate(body.splitlines() or [""])) + "\n")
        self.out.flush()
        return SendResult("sent", external_id=str(len(self.delivered)))


def console_incoming(text: str, *, group: bool, seq: int) -> Incoming:
    return Incoming(
        channel="console",
        chat_id=CONSOLE_GROUP_CHAT if group else CONSOLE_PRIVATE_CHAT,
        user_id=CONSOLE_USER,
        chat_type="group" if group else "private",
        text=text,
        update_key=None,
    )


async def run_console(
    handle: Callable[[Incoming], object],
    drain: Callable[[], object],
    *,
    inp: TextIO | None = None,
    out: TextIO | None = None,
) -> None:
    """Read lines until EOF or ``::keluar``; each line is handled and its replies printed."""
    inp = inp or sys.stdin
    out = out or sys.stdout
    loop = asyncio.get_running_loop()
    group = False
    seq = 0
    out.write("JagaNetral — obrolan konsol. Ketik /start untuk mulai, ::keluar untuk keluar.\n")
    while True:
        out.write("grup> " if group else "anda> ")
        out.flush()
        line = await loop.run_in_executor(None, inp.readline)
        if not line:
            break
        text = line.rstrip("\n")
        meta = text.strip().lower()
        if meta in ("::keluar", "::exit", "::quit"):
            break
        if meta == "::grup":
            group = True
            continue
        if meta == "::pribadi":
            group = False
            continue
        if not text.strip():
            continue
        seq += 1
        await handle(console_incoming(text, group=group, seq=seq))  # type: ignore[misc]
        await drain()  # type: ignore[misc]
