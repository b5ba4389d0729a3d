"""Splitting a long text into messages that each fit a platform's limit (WhatsApp bodies, Telegram texts)."""

from __future__ import annotations


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
