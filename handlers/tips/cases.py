"""Tip cases shared by the reporter side and the Bawaslu group side: statuses, labels, routing, who may act.

Routing: a tip goes to the Bawaslu group configured for its kabupaten/kota (``bawaslu_groups["64.02"]``),
else its province (``"64"``), else ``bawaslu_groups["default"]``, else ``settings.fallback_group`` (set by the
console chat when it runs without a config file). In console mode every group is simulated by the console
chat ``console-group``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot import regions
from bot.config import Settings
from bot.core.context import Context
from bot.core.services import Services
from bot.storage.models import Tip
from bot.texts import t

log = logging.getLogger(__name__)


class TipStatus(StrEnum):
    """A tip's case status (stored as its value; the order is the order of the group's buttons)."""

    DITERIMA = "diterima"
    DITELAAH = "ditelaah"
    DITINDAKLANJUTI = "ditindaklanjuti"
    TIDAK_DAPAT = "tidak_dapat"
    SELESAI = "selesai"


STATUSES = list(TipStatus)
CLOSED = frozenset({TipStatus.TIDAK_DAPAT, TipStatus.SELESAI})
CATEGORIES = ["medsos", "kampanye", "atribut", "fasilitas", "keputusan", "ajakan", "parpol", "kades", "lain"]
CONSOLE_GROUP = "console-group"


def reporter_key(ctx: Context) -> str:
    """The reporter's pseudonym (HMAC of channel + user id): rate limit and "my tips", never an id."""
    return ctx.services.identity.key("reporter", ctx.incoming.channel, ctx.incoming.user_id)


def actor(ctx: Context) -> str:
    """The audit log's name for the group member (or admin) acting on a tip: a pseudonym, stable per person,
    so the log shows who did what without naming anyone. Never shown to the reporter."""
    return "anggota:" + ctx.services.identity.key("actor", ctx.incoming.channel, ctx.incoming.user_id)[:32]


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
        default = settings.fallback_group  # the console's simulated group when it runs without a config
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
