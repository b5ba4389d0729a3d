"""Submitting a confirmed /lapor: evidence download and stripping, the tip row, the group messages.

Anonymity: the tip stores ``reporter_key`` (HMAC of channel + user id: rate limit, "my tips") and
``reply_enc`` (sealed chat address, for status notices and questions) — never ids, names or usernames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot import regions
from bot.core.context import Context
from bot.core.model import MediaOut, Reply
from bot.storage.models import Tip, TipMedia
from bot.texts import t
from handlers.tips import store
from handlers.tips.cases import TipStatus, group_chat, reporter_key, resolve_group
from handlers.tips.evidence import Evidence
from handlers.tips.evidence_fetch import fetch_evidence, matches
from handlers.tips.messages import group_messages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotStripped:
    """Files whose metadata could not be removed although the review did not name them (``refs``): nothing was
    stored; the reporter is asked again, with the files named."""

    refs: list[str]


@dataclass(frozen=True)
class FetchFailed:
    """Evidence file ``n`` (1-based) could not be fetched or was too big; it was dropped from the draft."""

    n: int
    max_mb: int


def day(ctx: Context) -> str:
    """Today in the configured zone (the rate counter's day)."""
    return ctx.now.astimezone(ZoneInfo(ctx.services.settings.timezone)).date().isoformat()


async def _download(ctx: Context) -> list[tuple[dict[str, Any], Evidence]] | FetchFailed:
    """Every evidence file with its draft entry, fetched and stripped (normally before the transaction, by the
    Kirim button's ``Router.prepare`` hook: ``evidence_fetch``); on a failure drop that file from the draft."""
    cfg = ctx.services.settings.tips
    media = list(ctx.state.data.get("media", []))
    fetched = ctx.prepared if matches(ctx.prepared, media) else await fetch_evidence(ctx.services, ctx.channel, media)
    out: list[tuple[dict[str, Any], Evidence]] = []
    for n, (m, f) in enumerate(zip(media, fetched, strict=True), 1):
        if f.evidence is None:
            media.pop(n - 1)
            ctx.state.data["media"] = media
            return FetchFailed(n, cfg.max_media_bytes // (1024 * 1024))
        out.append((m, f.evidence))
    return out


async def submit(ctx: Context) -> Tip | FetchFailed | NotStripped | None:
    """Store the draft as a tip and queue it for its group; None when refused (daily limit)."""
    svc, data = ctx.services, ctx.state.data
    cfg = svc.settings.tips
    rkey = reporter_key(ctx)
    if await store.count_today(ctx.session, rkey, day(ctx)) >= cfg.max_per_day:
        ctx.state.clear()
        ctx.reply(t("tips.rate_limited", max=cfg.max_per_day))
        return None
    evidence = await _download(ctx)
    if isinstance(evidence, FetchFailed):
        return evidence
    consented = set(data.get("consented", []))
    surprises = [m["ref"] for m, ev in evidence if not ev.stripped and m["ref"] not in consented]
    if surprises:
        return NotStripped(surprises)
    route = resolve_group(svc.settings, data["region"])
    now = ctx.now
    tip = await store.create_tip(ctx.session, Tip(
        code=await store.unique_code(ctx.session),
        region_code=data["region"],
        category=data["category"],
        who=data.get("who", ""),
        place_time=data.get("place", ""),
        description=data.get("what", ""),
        links=list(data.get("links", [])),
        status=TipStatus.DITERIMA,
        channel=ctx.incoming.channel,
        reporter_key=rkey,
        reply_enc=svc.identity.seal(ctx.incoming.channel, ctx.incoming.chat_id),
        group_chat_id=route[1] if route else None,
        created_at=now,
        updated_at=now,
    ))
    media_rows: list[TipMedia] = []
    for n, (m, ev) in enumerate(evidence, 1):
        kind = m["kind"]
        out_kind = "photo" if kind == "photo" and ev.stripped else ("video" if kind == "video" else "document")
        media_rows.append(TipMedia(
            tip_id=tip.id, kind=out_kind, content=ev.data, content_type=ev.content_type,
            filename=f"bukti-{n}.{ev.ext}", size=len(ev.data), sha256_original=ev.sha256_original,
            stripped=ev.stripped, created_at=now,
        ))
    await store.add_media(ctx.session, media_rows)
    await store.add_event(ctx.session, tip.id, "status", TipStatus.DITERIMA, now)
    await store.count_one(ctx.session, rkey, day(ctx))
    if route is None:
        log.warning("tip stored but no Bawaslu group is configured",
                    extra={"tip_id": tip.id, "region": tip.region_code})
        ctx.reply(t("tips.sent_unrouted", code=tip.code))
    else:
        await _deliver(ctx, tip, media_rows)
        matched = regions.get(route[0])
        target = matched.name if matched else t("tips.target_default")
        ctx.reply(t("tips.sent", target=target, code=tip.code))
    log.info("tip received", extra={"tip_id": tip.id, "region": tip.region_code, "media": len(media_rows)})
    ctx.state.clear()
    return tip


async def _deliver(ctx: Context, tip: Tip, media: list[TipMedia]) -> None:
    """Queue the group message(s) and one message per evidence file (durable: same transaction)."""
    assert tip.group_chat_id is not None
    channel, chat_id = group_chat(ctx.services, tip.group_chat_id)
    for i, reply in enumerate(group_messages(ctx.services.settings, tip, media)):
        await ctx.send_to(channel, chat_id, reply, is_group=True, purpose="tip",
                          idem_key=f"tip:{tip.id}:text" + (f":{i}" if i else ""), tip_id=tip.id)
    total = len(media)
    for n, row in enumerate(media, 1):
        caption = t("group.media_caption", n=n, total=total, code=tip.code)
        if not row.stripped:
            caption += t("group.media_caption_unstripped")
        reply = Reply(media=[MediaOut(row.kind, media_id=row.id, caption=caption)], protect=True)  # type: ignore[arg-type]
        await ctx.send_to(channel, chat_id, reply, is_group=True, purpose="tip",
                          idem_key=f"tip:{tip.id}:media:{n}", tip_id=tip.id)
