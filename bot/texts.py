"""All user-facing Indonesian strings, in one catalog.

Every message the bot shows to a person comes from here, looked up by key with ``t(key, **fields)``.
Keys are grouped by feature; formatting uses ``str.format`` fields. Code, comments and keys are English.
"""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # --- general -------------------------------------------------------------------------------
    "error.generic": "Maaf, terjadi kesalahan di sistem kami. Silakan coba lagi sebentar lagi.",
    "error.unknown_command": "Perintah /{command} tidak dikenal. Ketik /bantuan untuk melihat daftar perintah.",
    "error.unknown_button": "Tombol ini sudah tidak berlaku. Ketik /bantuan untuk mulai lagi.",
    "error.admin_only": "Maaf, perintah ini hanya untuk admin JagaNetral.",
    "error.private_only": "Perintah ini hanya bisa dipakai di chat pribadi dengan bot, bukan di grup.",
    "error.group_only": "Perintah ini hanya bisa dipakai di grup Bawaslu.",
    "error.too_long": "Pesan Anda terlalu panjang; hanya bagian awalnya yang kami baca.",
    "error.unsupported": "Maaf, jenis pesan ini belum bisa kami proses. Silakan kirim teks.",
    "common.cancelled": "Dibatalkan. Ketik /bantuan untuk melihat pilihan lain.",
    "button.back": "⬅️ Kembali",
    "button.cancel": "✖️ Batal",
    "whatsapp.reply_with_number": "Balas {choices}.",
    # --- start / help ----------------------------------------------------------------------------
    "start.welcome": (
        "Halo! Saya JagaNetral, asisten netralitas ASN (PNS dan PPPK) selama Pemilu dan Pilkada.\n\n"
        "Saya bisa:\n"
        "• menjawab pertanyaan \"boleh atau tidak\" seputar netralitas ASN, lengkap dengan dasar hukumnya "
        "— ketik saja pertanyaan Anda, misalnya: boleh gak like postingan paslon di IG?\n"
        "• menerima laporan dugaan pelanggaran secara anonim dan meneruskannya ke Bawaslu (/lapor)\n"
        "• mengingatkan Anda di setiap tahapan pemilu di daerah Anda (/langganan)\n\n"
        "Ketik /bantuan untuk daftar perintah."
    ),
    "help.text": (
        "Daftar perintah:\n"
        "/tanya <pertanyaan> — tanya soal netralitas ASN (atau ketik langsung pertanyaannya)\n"
        "/lapor — laporkan dugaan pelanggaran netralitas secara anonim\n"
        "/status <kode> — cek status laporan Anda\n"
        "/hapus <kode> — hapus data kontak Anda dari laporan\n"
        "/langganan — terima pengingat tahapan pemilu untuk daerah Anda\n"
        "/tahapan — tahapan pemilu yang sedang berjalan di daerah Anda\n"
        "/berhenti — berhenti berlangganan\n"
        "/bantuan — tampilkan pesan ini"
    ),
    "help.admin": (
        "\n\nPerintah admin:\n"
        "/siaran — jadwalkan siaran\n"
        "/jadwal — daftar siaran terjadwal\n"
        "/batal <id> — batalkan siaran yang belum mulai\n"
        "/pertanyaan — pertanyaan yang belum terjawab"
    ),
    "help.group": (
        "Perintah grup Bawaslu:\n"
        "/statistik — rekap laporan daerah ini\n"
        "/ekspor — unduh laporan daerah ini (CSV, tanpa data pelapor)"
    ),
    # --- FAQ (faq/render.py, handlers/faq.py) --------------------------------------------------
    "faq.verdict.boleh": "✅ BOLEH",
    "faq.verdict.tidak": "⛔ TIDAK BOLEH",
    "faq.verdict.bersyarat": "⚠️ BOLEH DENGAN SYARAT",
    "faq.verdict.info": "ℹ️ INFORMASI",
    "faq.legal_basis": "Dasar hukum: {basis}",
    "faq.suggest": "Maksud Anda:",
    "faq.ask_prompt": "Silakan ketik pertanyaan Anda, misalnya: /tanya boleh gak PNS hadir kampanye?",
    "faq.unanswered_title": "Pertanyaan yang belum terjawab (terbanyak dulu):",
    "faq.unanswered_row": "{n}. ({count}×) {text}",
    "faq.unanswered_empty": "Belum ada pertanyaan yang belum terjawab.",
    "faq.none": (
        "Maaf, kami belum punya jawaban untuk pertanyaan itu. Pertanyaan Anda kami catat agar bisa "
        "dijawab admin. Jika ada dugaan pelanggaran, laporkan lewat /lapor atau hubungi kantor Bawaslu "
        "terdekat."
    ),
}


def t(key: str, /, **fields: object) -> str:
    """Return the catalog text for ``key`` with ``fields`` filled in. Unknown keys raise KeyError."""
    text = TEXTS[key]
    return text.format(**fields) if fields else text
