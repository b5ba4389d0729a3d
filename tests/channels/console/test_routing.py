"""Where console tips go: without a config file every region reaches the simulated Bawaslu group (said once at
start); with a config the configured routing is used and regions without a group are named at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app.chat import CONSOLE_GROUP_ID, console_routing, unrouted
from bot.texts import t
from handlers.tips.cases import resolve_group
from tests.channels.console.helpers import InProcessConsole


def tip(region: str, what: str) -> list[tuple[str, str]]:
    return [
        ("/lapor", "Langkah 1/6"), (region, "Langkah 2/6"), ("4", "Langkah 3/6"), ("Lewati", "Langkah 4/6"),
        ("Halaman kantor, Jumat sore", "Langkah 5/6"), (what, "Langkah 6/6"), ("Lewati", "Periksa laporan"),
    ]


async def test_without_config_tips_of_every_region_reach_the_simulated_group(settings: Any, tmp_path: Path) -> None:
    console = InProcessConsole(settings, tmp_path, config_file=False)
    try:
        await console.wait_for(t("console.routing_all").replace("(", r"\(").replace(")", r"\)"))
        for region, what in (("merauke", "Mobil dinas dipakai kampanye"), ("kukar", "Camat ikut deklarasi")):
            for line, expect in tip(region, what):
                await console.say(line, expect)
            await console.say("1", rf"\[grup Bawaslu\] bot> 🚨 Informasi awal[\s\S]*{what}")
            await console.wait_for(r"bot> ✅ Laporan Anda sudah kami terima dan diteruskan ke Bawaslu")
        assert console.out.text.count(t("console.routing_all")) == 1  # said once
        await console.say("::grup", "grup Bawaslu simulasi")
        await console.say("/statistik", r"Total: 2")
    finally:
        await console.close()


async def test_with_config_the_configured_routing_is_used_and_gaps_are_named(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(bawaslu_groups={"64.02": -1001000006402})
    console = InProcessConsole(settings, tmp_path, config_file=True)
    try:
        warning = await console.wait_for(r"⚠️ Daerah tanpa grup Bawaslu.*::grup: (.*)\. Tambahkan")
        named = warning.group(1).split(", ")
        assert "Kalimantan Timur (9 dari 10 kab/kota)" in named and "Aceh" in named and len(named) == 38
        for line, expect in tip("kukar", "Spanduk di kantor kecamatan"):  # configured: reaches the group
            await console.say(line, expect)
        await console.say("1", r"\[grup Bawaslu\] bot> 🚨 Informasi awal[\s\S]*Spanduk di kantor kecamatan")
        for line, expect in tip("samarinda", "Lurah membagikan sembako calon"):  # no group: stored, said so
            await console.say(line, expect)
        await console.say("1", r"bot> ✅ Laporan Anda sudah kami catat[\s\S]*belum terhubung")
        group_lines = [line for line in console.out.text.splitlines() if line.startswith("[grup Bawaslu]")]
        assert any("Spanduk di kantor kecamatan" in line for line in group_lines)
        assert not any("Lurah membagikan" in line for line in group_lines)
    finally:
        await console.close()


def test_routing_notice_for_each_kind_of_setup(make_settings: Any) -> None:
    bare = make_settings()
    routed, notices = console_routing(bare, config_file=False)
    assert notices == [t("console.routing_all")]
    assert resolve_group(routed, "94.71") == ("default", CONSOLE_GROUP_ID)  # Kota Jayapura
    assert resolve_group(bare, "94.71") is None  # the original settings are left as they were

    same, notices = console_routing(bare, config_file=True)  # a config file without [bawaslu_groups]
    assert notices == [t("console.routing_none")] and resolve_group(same, "94.71") is None

    full = make_settings(bawaslu_groups={"default": -1001000000000, "64": -1001000000064})
    same, notices = console_routing(full, config_file=True)
    assert notices == [] and unrouted(full) == []
    assert resolve_group(same, "64.72") == ("64", -1001000000064)

    env_groups = make_settings(bawaslu_groups={"64": -1001000000064})  # e.g. from the environment, no file
    same, notices = console_routing(env_groups, config_file=False)
    assert resolve_group(same, "11.01") is None and "Aceh" in notices[0]
