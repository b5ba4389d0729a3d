"""``python -m bot chat`` (and ``run`` with no channel configured): the console runtime.

It runs what ``run`` runs — the delivery loop and the scheduler (broadcasts, stage reminders, delivery
reports, the daily purge) through ``Runtime.start()`` — with the console as its only channel, so everything
the README's first screen promises can be tried without an account.

Routing of tips: with no configuration file (and no ``bawaslu_groups`` from the environment) every region's
tips go to the simulated Bawaslu group (``Settings.with_fallback_group``), and the chat says so once at start.
With a configuration the configured routing is used as is, and the chat warns at start about regions that
have no group (their tips are stored but reach no group).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot import regions
from bot.app.startup import migrate_or_fail
from bot.channels.console import ConsoleScreen, ConsoleSender, run_console
from bot.config import Settings
from bot.texts import t

CONSOLE_GROUP_ID = -1  # group chat id stored on tips routed to the console's simulated group
EXPORT_DIR = Path("data") / "ekspor"  # where /ekspor files (CSV, PNG) are written, relative to the cwd


def unrouted(settings: Settings) -> list[str]:
    """Regions whose tips reach no group under ``settings``: provinces by short name, partly covered
    provinces with their count of kab/kota without a group. Empty when every region has a group."""
    groups = settings.bawaslu_groups
    if "default" in groups or settings.fallback_group is not None:
        return []
    out: list[str] = []
    for prov in regions.provinces():
        if prov.code in groups:
            continue
        kab = regions.kabkota(prov.code)
        missing = [k for k in kab if k.code not in groups]
        if len(missing) == len(kab):
            out.append(prov.short)
        elif missing:
            out.append(t("console.routing_partial", province=prov.short, missing=len(missing), total=len(kab)))
    return out


def console_routing(settings: Settings, *, config_file: bool) -> tuple[Settings, list[str]]:
    """The settings the console runs with, and the routing notice to print at start."""
    if not config_file and not settings.bawaslu_groups:
        return settings.with_fallback_group(CONSOLE_GROUP_ID), [t("console.routing_all")]
    if not settings.bawaslu_groups:
        return settings, [t("console.routing_none")]
    missing = unrouted(settings)
    return settings, ([t("console.routing_missing", regions=", ".join(missing))] if missing else [])


async def run_chat(
    settings: Settings,
    *,
    config_file: bool,
    inp: TextIO | None = None,
    out: TextIO | None = None,
    export_dir: Path = EXPORT_DIR,
) -> None:
    """Migrate, start the delivery loop and the scheduler, then chat until the user quits."""
    from bot.app.runtime import Runtime

    settings, notices = console_routing(settings, config_file=config_file)
    screen = ConsoleScreen(out)
    sender = ConsoleSender(screen=screen, export_dir=export_dir)
    rt = Runtime.create(settings, {"console": sender})
    sender.load_media = rt.services.load_media
    try:
        await migrate_or_fail(rt)
        await rt.start()  # the same delivery loop and scheduler as `run`
        await run_console(rt.core.handle, rt.worker.drain, inp=inp, screen=screen, notices=notices)
    finally:
        await rt.stop()
