"""Tip cases shared by the reporter side (handlers/tips.py) and the Bawaslu group side (handlers/group.py).

Routing: a tip goes to the Bawaslu group configured for its kabupaten/kota (``bawaslu_groups["64.02"]``),
else its province (``"64"``), else ``bawaslu_groups["default"]`` / ``tips.default_group``. In console mode
the configured group is simulated by the console chat ``console-group``.

Retention: the sealed reply address (``Tip.reply_enc``) is the only way back to the reporter. It is wiped
``tips.retention_days`` after the case is closed (``purge_after``), at once on ``/hapus``. ``purge_expired``
does the wiping and is meant to run daily from the scheduler::

    async with services.sessions() as s, s.begin():
        await purge_expired(s, utcnow())
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import regions
from bot.config import Settings
from bot.core.model import Button, Reply
from bot.core.services import Services
from bot.storage.models import Tip, TipMedia
from bot.texts import t

log = logging.getLogger(__name__)

STATUSES = ["diterima", "ditelaah", "ditindaklanjuti", "tidak_dapat", "selesai"]
CLOSED = frozenset({"tidak_dapat", "selesai"})
CATEGORIES = ["medsos", "kampanye", "atribut", "fasilitas", "keputusan", "ajakan", "parpol", "kades", "lain"]
CONSOLE_GROUP = "console-group"
GENERATED_MEDIA_DAYS = 7  # generated exports (TipMedia without a tip) are kept this long
HTML_LIMIT = 3800  # keep composed group messages under Telegram's 4096 characters


def category_label(key: str) -> str:
    return t(f"tips.cat.{key}") if key in CATEGORIES else key


def status_label(key: str) -> str:
    return t(f"tips.status.{key}") if key in STATUSES else key


def region_label(code: str) -> str:
    r = regions.get(code)
    if r is None:
        return code
    if r.level == "provinsi":
        return r.name
    prov = regions.get(r.province_code)
    return f"{r.name}, {prov.name}" if prov else r.name


def local_time(settings: Settings, when: datetime, fmt: str = "%d-%m-%Y %H:%M") -> str:
    tz = ZoneInfo(settings.timezone)
    local = when.astimezone(tz)
    label = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}.get(settings.timezone, "")
    return f"{local.strftime(fmt)} {label}".strip()


def resolve_group(settings: Settings, region_code: str) -> tuple[str, int] | None:
    """(matched region code or "default", group chat id) for a region: kab/kota, province, then default."""
    groups = settings.bawaslu_groups
    try:
        chain = regions.ancestors(region_code)
    except ValueError:
        chain = []
    for code in chain:
        if code in groups:
            return code, int(groups[code])
    default = groups.get("default")
    if default is None:
        default = getattr(settings.tips, "default_group", None)
    return ("default", int(default)) if default is not None else None


def group_chat(services: Services, group_chat_id: int) -> tuple[str, str]:
    """(channel, chat id) of a Bawaslu group; the console simulates every group with one chat."""
    channel = services.group_channel
    return (channel, CONSOLE_GROUP if channel == "console" else str(group_chat_id))


def may_act(services: Services, tip: Tip, channel: str, chat_id: str, is_admin: bool) -> bool:
    """Only the group the tip was routed to (or a JagaNetral admin) may change it or contact the reporter."""
    if is_admin:
        return True
    if tip.group_chat_id is None:
        return False
    gch, gid = group_chat(services, tip.group_chat_id)
    return channel == gch and chat_id == gid


def status_buttons(tip_id: int) -> list[list[Button]]:
    kb = [[Button(status_label(s), f"tip:st:{tip_id}:{i}")] for i, s in enumerate(STATUSES)]
    kb.append([Button(t("group.btn_ask"), f"tip:ask:{tip_id}")])
    return kb


def group_messages(settings: Settings, tip: Tip, media: list[TipMedia]) -> list[Reply]:
    """The text message(s) announcing a tip in its Bawaslu group. Every user-supplied part is escaped."""
    esc = html.escape
    links = ""
    if tip.links:
        rows = "\n".join(t("group.link_row", label=esc(lk["label"]), url=esc(lk["url"])) for lk in tip.links)
        links = t("group.links", rows=rows)
    unstripped = sum(1 for m in media if not m.stripped)
    media_note = t("group.media_sent", n=len(media)) if media else t("group.media_none")
    if unstripped:
        media_note += t("group.media_unstripped", n=unstripped)
    fields = {
        "code": esc(tip.code),
        "region": esc(region_label(tip.region_code)),
        "category": esc(category_label(tip.category)),
        "who": esc(tip.who) if tip.who else t("tips.none"),
        "place": esc(tip.place_time) if tip.place_time else t("tips.none"),
        "links": links,
        "media": media_note,
        "created": esc(local_time(settings, tip.created_at)),
        "status": esc(status_label(tip.status)),
    }
    text = t("group.tip", what=esc(tip.description), **fields)
    buttons = status_buttons(tip.id)
    if len(text) <= HTML_LIMIT:
        return [Reply(text=text, buttons=buttons, html=True, protect=True)]
    # Too long once escaped: the description follows as plain text (no parsing, so nothing to escape).
    head = Reply(text=t("group.tip", what=t("group.what_separate"), **fields), buttons=buttons, html=True,
                 protect=True)
    out = [head]
    body = tip.description
    step = 3500
    for i in range(0, len(body), step):
        out.append(Reply(text=t("group.what_part", code=tip.code, text=body[i : i + step]), protect=True))
    return out


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Wipe reply addresses of tips past ``purge_after``; drop old generated exports and stray media.

    Returns the number of tips whose reply address was wiped. Run daily (scheduler), in one transaction.
    """
    result = await session.execute(
        update(Tip)
        .where(Tip.purge_after.is_not(None), Tip.purge_after <= now, Tip.reply_enc.is_not(None))
        .values(reply_enc=None, updated_at=now)
    )
    wiped = int(result.rowcount or 0)
    await session.execute(
        delete(TipMedia).where(
            TipMedia.tip_id.is_(None), TipMedia.created_at <= now - timedelta(days=GENERATED_MEDIA_DAYS)
        )
    )
    if wiped:
        log.info("tip reply addresses purged", extra={"count": wiped})
    return wiped


async def tip_by_id(session: AsyncSession, tip_id: int) -> Tip | None:
    return await session.scalar(select(Tip).where(Tip.id == tip_id))
