"""Plain text of a reply: what a user sees of an HTML text (the console, WhatsApp, Telegram's length limit), and
a long text split into messages that each fit a platform's limit (WhatsApp bodies, Telegram texts)."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")


def shown_text(text: str, is_html: bool) -> str:
    """What a user sees of ``text`` (for HTML: without tags, entities resolved); Telegram's limits count this."""
    return html.unescape(_TAG.sub("", text)) if is_html else text


def split_parts(text: str, limit: int) -> list[str]:
    """Split at paragraph, line or word boundaries so that each part fits ``limit``."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n\n", 0, limit)
        if cut <= limit // 2:
            cut = rest.rfind("\n", 0, limit)
        if cut <= limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut <= limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts or [""]
