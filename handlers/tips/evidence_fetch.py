"""Evidence files fetched from the platform and stripped — before the update's transaction (review C6).

A tip is submitted by the "Kirim" button (``lapor:ok``). The core runs ``prefetch_tip_evidence`` for that button
under the chat's lock but before it opens the update's database transaction (``Router.prepare``): the downloads
(up to ``tips.max_media`` files of ``tips.max_media_bytes``) hold no pooled connection idle in a transaction,
and Pillow re-encodes in a worker thread (``asyncio.to_thread``), not on the event loop. The submit handler then
only stores what was fetched; it fetches itself only when the draft changed in between (another process).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from bot.core.context import FlowState
from bot.core.model import Incoming
from bot.core.services import Services
from handlers.tips.evidence import Evidence, prepare

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    ref: str
    kind: str
    evidence: Evidence | None  # None: the download failed or the file is too big


async def fetch_evidence(services: Services, channel: str, media: list[dict[str, Any]]) -> list[Fetched]:
    """Download and strip every file of a draft (in order). Never raises for a file: it is ``None`` instead."""
    max_bytes = services.settings.tips.max_media_bytes
    fetch = services.media_fetchers.get(channel)
    out: list[Fetched] = []
    for n, m in enumerate(media, 1):
        data: bytes | None = None
        ctype = m.get("ctype") or "application/octet-stream"
        if fetch is not None:
            try:
                data, fetched_type = await fetch(m["ref"])
            except Exception as exc:  # network, expired file id …: never log the reference itself
                log.warning("evidence download failed", extra={"n": n, "error": type(exc).__name__})
                data = None
            else:
                if ctype == "application/octet-stream":
                    ctype = fetched_type
        if data is None or len(data) > max_bytes:
            out.append(Fetched(m["ref"], m["kind"], None))
            continue
        evidence = await asyncio.to_thread(prepare, data, ctype, m["kind"])  # Pillow off the event loop
        out.append(Fetched(m["ref"], m["kind"], evidence))
    return out


async def prefetch_tip_evidence(inc: Incoming, state: FlowState, services: Services) -> list[Fetched] | None:
    """``Router.prepare`` hook of the Kirim button: the draft's evidence, fetched outside the transaction."""
    if state.flow != "lapor" or state.step != "review" or not state.data.get("media"):
        return None
    return await fetch_evidence(services, inc.channel, list(state.data["media"]))


def matches(prepared: Any, media: list[dict[str, Any]]) -> bool:
    """Whether ``prepared`` (from the hook) is the evidence of exactly this draft."""
    return (
        isinstance(prepared, list)
        and len(prepared) == len(media)
        and all(isinstance(f, Fetched) and f.ref == m.get("ref") for f, m in zip(prepared, media, strict=True))
    )
