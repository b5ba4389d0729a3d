"""The done-test of the console demo: on a fresh checkout with no config file, ``bash scripts/run.sh`` in a
terminal lets a newcomer subscribe, receive a broadcast and its delivery report, file a tip and see it in
``::grup``, act on it there with a status button, and quit with Ctrl-C."""

from __future__ import annotations

from pathlib import Path

from tests.channels.console.helpers import TerminalConsole, clean_env, fresh_checkout


def test_newcomer_walkthrough_in_the_console(tmp_path: Path) -> None:
    repo = fresh_checkout(tmp_path / "jaganetral")
    assert not (repo / "config.toml").exists() and not (repo / "data").exists()
    term = TerminalConsole(["bash", "scripts/run.sh"], cwd=repo, env=clean_env(JAGANETRAL_SKIP_SETUP="1"))
    try:
        term.wait_for(r"laporan dari semua daerah diteruskan ke grup Bawaslu simulasi")
        term.wait_for(r"anda>")
        # subscribe
        term.say("/langganan samarinda", r"Anda berlangganan sebagai:[\s\S]*1\. ASN")
        term.say("1", r"Anda berlangganan pengingat tahapan pemilu untuk Kota Samarinda")
        # broadcast now: it arrives, then its delivery report, with no further input
        term.say("/siaran", "Tulis teks siaran")
        term.say("Besok apel netralitas ASN pukul 07.30", r"Kirim ke siapa\?[\s\S]*3\. Satu kabupaten/kota")
        term.say("3", "Ketik nama kabupaten/kota")
        term.say("samarinda", "Kapan dikirim")
        term.say("sekarang", r"Periksa sekali lagi[\s\S]*1 pelanggan aktif[\s\S]*1\. ✅ Jadwalkan siaran")
        term.say("1", r"Siaran #1 dijadwalkan \(sekarang\)")
        term.wait_for(r"bot> 📢 Pengumuman JagaNetral\s+Besok apel netralitas ASN pukul 07\.30")
        term.wait_for(r"📊 Laporan siaran #1\s+Penerima: 1\s+Terkirim: 1\s+Gagal: 0")
        # file a tip
        term.say("/lapor", "Langkah 1/6")
        term.say("kukar", r"Langkah 2/6[\s\S]*4\. Memakai fasilitas negara")
        term.say("4", r"Langkah 3/6[\s\S]*Atau ketik: Lewati")
        term.say("Lewati", "Langkah 4/6")
        term.say("Halaman kantor bupati, Sabtu sore", "Langkah 5/6")
        term.say("Mobil dinas plat merah dipakai mengangkut spanduk calon", r"Langkah 6/6[\s\S]*Atau ketik: Lewati")
        term.say("Lewati", r"Periksa laporan Anda[\s\S]*1\. ✅ Kirim laporan")
        code = term.say("1", r"Kode laporan: (JN-[0-9A-Z]{4}-[0-9A-Z]{4})").group(1)
        # see it in the simulated Bawaslu group and act on it
        term.say("::grup", r"anggota grup Bawaslu simulasi")
        term.wait_for(r"grup>")
        assert f"[grup Bawaslu]      Kode: {code}" in term.text
        pressed = term.pos  # the tip's status buttons are the last ones on screen: "2" presses one of them
        term.say("2", rf"Status laporan {code} diubah menjadi: Sedang ditelaah\. Pelapor sudah diberi tahu")
        term.wait_for(rf"(?<!\] )bot> ℹ️ Status laporan {code} diperbarui oleh Bawaslu: Sedang ditelaah", since=pressed)
        term.say("/statistik", r"\[grup Bawaslu\] bot> Rekap laporan — grup ini\s+\[grup Bawaslu\]\s+Total: 1")
        # quit with Ctrl-C
        term.child.sendintr()
        assert term.exit_status() == 0
        assert "Sampai jumpa." in term.text and "Traceback" not in term.text
    finally:
        term.close()


def test_terminal_reads_a_5000_character_paste(tmp_path: Path) -> None:
    """Walkthrough 28: the terminal's line limit (4,095) no longer cuts a paste silently."""
    term = TerminalConsole(["bash", "scripts/run.sh"], cwd=fresh_checkout(tmp_path / "jn"),
                           env=clean_env(JAGANETRAL_SKIP_SETUP="1"))
    try:
        term.wait_for(r"anda>")
        term.say("/lapor", "Langkah 1/6")
        for line, expect in (("kukar", "Langkah 2/6"), ("1", "Langkah 3/6"), ("Lewati", "Langkah 4/6"),
                             ("Kantor camat", "Langkah 5/6")):
            term.say(line, expect)
        term.say("y" * 5000, r"Teks terlalu panjang \(4000 karakter; maksimal 2000\)")
        term.child.sendintr()
        assert term.exit_status() == 0
    finally:
        term.close()
