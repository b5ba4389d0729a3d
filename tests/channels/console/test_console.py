"""The console chat runs what production runs: scheduler, delivery loop, reports; and prints as things arrive."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core.clock import set_clock
from tests.channels.console.helpers import InProcessConsole

SUBSCRIBE = [("/langganan samarinda", "berlangganan sebagai"), ("1", "Terima kasih")]


def broadcast(text: str, when: str) -> list[tuple[str, str]]:
    return [
        ("/siaran", "Tulis teks siaran"), (text, "Kirim ke siapa"), ("3", "Ketik nama kabupaten/kota"),
        ("smd", "Kapan dikirim"), (when, "Periksa sekali lagi"), ("1", r"Siaran #\d+ dijadwalkan"),
    ]


async def script(console: InProcessConsole, steps: list[tuple[str, str]]) -> None:
    for line, expect in steps:
        await console.say(line, expect)


async def test_broadcast_now_and_its_report_arrive_while_waiting_for_input(settings: Any, tmp_path: Path) -> None:
    console = InProcessConsole(settings, tmp_path)
    try:
        await console.wait_for("anda> ")
        await script(console, SUBSCRIBE + broadcast("Rapat netralitas hari Senin", "sekarang"))
        # no further input: the scheduler sends it, the delivery loop prints it, the report follows
        await console.wait_for(r"bot> 📢 Pengumuman JagaNetral\n\s+\n\s+Rapat netralitas hari Senin")
        await console.wait_for(r"📊 Laporan siaran #1\n\s+Penerima: 1\n\s+Terkirim: 1")
        await console.wait_for(r"Tidak pasti/tertunda: 0\nanda> ")  # the prompt is shown again below it
        await console.say("/jadwal", "Tidak ada siaran terjadwal")
    finally:
        await console.close()


async def test_scheduled_broadcast_is_sent_when_due(settings: Any, tmp_path: Path) -> None:
    """A broadcast typed for a later minute is sent by the console's scheduler once that time has come
    (here: the console is restarted with the clock past the time; the start-up catch-up sends it)."""
    local = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)) + timedelta(minutes=2)
    console = InProcessConsole(settings, tmp_path)
    try:
        await script(console, SUBSCRIBE + broadcast("Apel pagi ditiadakan", f"{local:%d/%m/%Y %H.%M}"))
        await console.say("/jadwal", "terjadwal")
    finally:
        await console.close()
    set_clock(lambda: datetime.now(UTC) + timedelta(minutes=3))
    console = InProcessConsole(settings, tmp_path)
    try:
        await console.wait_for(r"📢 Pengumuman JagaNetral\n\s+\n\s+Apel pagi ditiadakan")
        await console.wait_for(r"📊 Laporan siaran #1\n\s+Penerima: 1\n\s+Terkirim: 1")
    finally:
        await console.close()


def _timeline(fire_local: datetime) -> str:
    start = fire_local.date() + timedelta(days=1)
    return f"""
id = "uji-konsol"
name = "Pemilu Uji Konsol"
kind = "pemilu"
enabled = true
regions = ["64"]
timezone = "local"
reminders = [{{ days_before = 1, at = "{fire_local:%H:%M}" }}]

[[stage]]
id = "kampanye"
name = "Masa kampanye"
start = {start.isoformat()}
end = {(start + timedelta(days=5)).isoformat()}
reminder = "ASN dilarang ikut kampanye; tetap netral."
"""


async def test_stage_reminder_is_printed_by_the_console(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import broadcasts.scheduler as scheduler
    from broadcasts.timeline import load_timeline

    console = InProcessConsole(settings, tmp_path)
    try:
        await script(console, SUBSCRIBE)
    finally:
        await console.close()
    # a reminder for Kalimantan Timur (WITA) that fell due two minutes ago: within the grace period
    fire = datetime.now(UTC).astimezone(ZoneInfo("Asia/Makassar")) - timedelta(minutes=2)
    path = tmp_path / "uji.toml"
    path.write_text(_timeline(fire), encoding="utf-8")
    monkeypatch.setattr(scheduler, "_load", lambda: [load_timeline(path)])
    console = InProcessConsole(settings, tmp_path)
    try:
        await console.wait_for("ASN dilarang ikut kampanye; tetap netral.")
    finally:
        await console.close()


async def test_ekspor_writes_csv_and_png_to_the_named_folder(settings: Any, tmp_path: Path) -> None:
    folder = tmp_path / "ekspor"
    console = InProcessConsole(settings, folder)
    try:
        await script(console, [
            ("/lapor", "Langkah 1/6"), ("kukar", "Langkah 2/6"), ("3", "Langkah 3/6"), ("Lewati", "Langkah 4/6"),
            ("Kantor Camat Tenggarong, Senin pagi", "Langkah 5/6"),
            ("Spanduk calon dipasang di pagar kantor dinas", "Langkah 6/6"), ("Lewati", "Periksa laporan"),
            ("1", r"Kode laporan: JN-"), ("::grup", "grup Bawaslu simulasi"),
        ])
        csv_line = await console.say("/ekspor", r"Ekspor laporan grup ini: 1 laporan.*\n.*disimpan di (\S+\.csv)")
        png_line = await console.wait_for(r"Grafik laporan.*\n.*disimpan di (\S+\.png)")
    finally:
        await console.close()
    _check_export(Path(csv_line.group(1)), Path(png_line.group(1)), folder)


def _check_export(csv_path: Path, png_path: Path, folder: Path) -> None:
    assert csv_path.parent == folder.resolve() and png_path.parent == folder.resolve()
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 2 and any("Spanduk calon dipasang" in cell for cell in rows[1])
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_long_paste_is_read_whole_and_the_cut_is_said(settings: Any, tmp_path: Path) -> None:
    """Walkthrough 28: a 5,000-character line was cut to 4,095 by the terminal without notice."""
    console = InProcessConsole(settings, tmp_path)
    try:
        await console.say("x" * 5000, "Pesan Anda terlalu panjang; hanya bagian awalnya yang kami baca")
    finally:
        await console.close()
