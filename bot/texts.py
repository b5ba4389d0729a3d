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
    "faq.related": "Topik terkait: {topics}",
    "faq.suggest_row": "{n}. {title}",
    "faq.none": (
        "Maaf, kami belum punya jawaban untuk pertanyaan itu. Pertanyaan Anda kami catat agar bisa "
        "dijawab admin. Jika ada dugaan pelanggaran, laporkan lewat /lapor atau hubungi kantor Bawaslu "
        "terdekat."
    ),
    # --- subscriptions (handlers/subscriptions.py) --------------------------------------------
    "sub.ask_region": (
        "Pengingat tahapan pemilu dikirim sesuai daerah Anda. Pilih provinsi di bawah, atau ketik nama "
        "kabupaten/kota atau provinsi Anda (misalnya: Kukar, Samarinda, Kaltim)."
    ),
    "sub.current": "Langganan Anda saat ini: {region}, sebagai {role}. Pilih daerah baru untuk menggantinya.",
    "sub.pick_kabkota": "{province}: pilih kabupaten/kota Anda, atau seluruh provinsi.",
    "sub.whole_province": "Seluruh {province}",
    "sub.page_prev": "⬅️ Sebelumnya",
    "sub.page_next": "Berikutnya ➡️",
    "sub.not_found": (
        "Daerah \"{text}\" tidak kami temukan. Coba ketik nama lain (misalnya: Kutai Kartanegara, Kukar, "
        "Samarinda) atau pilih provinsi dari tombol."
    ),
    "sub.choose_match": "Maksud Anda daerah yang mana?",
    "sub.ask_role": "Daerah: {region}. Anda berlangganan sebagai:",
    "sub.role.asn": "ASN (PNS/PPPK)",
    "sub.role.publik": "Masyarakat umum",
    "sub.role_unknown": "Silakan pilih salah satu: ASN atau masyarakat umum.",
    "sub.done": (
        "✅ Terima kasih! Anda berlangganan pengingat tahapan pemilu untuk {region} ({zone}) sebagai {role}. "
        "Pengingat dikirim pagi hari waktu setempat menjelang setiap tahapan.\n"
        "Ketik /tahapan untuk melihat tahapan saat ini, /langganan untuk mengganti daerah, "
        "/berhenti untuk berhenti kapan saja."
    ),
    "sub.changed": "✅ Langganan diperbarui: {region} ({zone}), sebagai {role}.",
    "sub.stopped": (
        "Anda sudah berhenti berlangganan; tidak ada lagi pengingat atau pengumuman yang dikirim. "
        "Ketik /langganan untuk berlangganan kembali."
    ),
    "sub.not_subscribed": "Anda belum berlangganan. Ketik /langganan untuk mulai.",
    "sub.stage.header": "Tahapan pemilu untuk {region}:",
    "sub.stage.current": "• Sedang berjalan: {stage} — {timeline} ({dates})",
    "sub.stage.no_current": "• Sedang berjalan: tidak ada tahapan hari ini.",
    "sub.stage.next": "• Berikutnya: {stage} — {timeline} ({dates})",
    "sub.stage.none": "Belum ada tahapan pemilu yang dijadwalkan untuk {region}.",
    "sub.stage.need_region": (
        "Ketik /tahapan <nama daerah> (misalnya: /tahapan Kukar), atau berlangganan dulu lewat /langganan."
    ),
    # --- broadcasts (handlers/broadcast_admin.py, broadcasts/scheduler.py) ----------------------
    "bc.ask_text": (
        "Tulis teks siaran untuk pelanggan (maksimal {max} karakter). Ketik /batal untuk membatalkan."
    ),
    "bc.empty": "Teks siaran tidak boleh kosong. Silakan tulis teksnya.",
    "bc.too_long": "Teks siaran terlalu panjang ({n} karakter; maksimal {max}). Silakan persingkat.",
    "bc.preview": "Pratinjau siaran (seperti yang akan diterima pelanggan):\n\n{preview}\n\nKirim ke siapa?",
    "bc.aud.all": "Semua pelanggan",
    "bc.aud.prov": "Satu provinsi",
    "bc.aud.kab": "Satu kabupaten/kota",
    "bc.aud.asn": "ASN saja",
    "bc.audience.all": "semua pelanggan",
    "bc.audience.asn": "pelanggan ASN",
    "bc.audience.region": "pelanggan di {region}",
    "bc.ask_region_prov": "Ketik nama provinsi tujuan (misalnya: Kalimantan Timur atau Kaltim).",
    "bc.ask_region_kab": "Ketik nama kabupaten/kota tujuan (misalnya: Kutai Kartanegara atau Kukar).",
    "bc.region_not_found": "Daerah \"{text}\" tidak ditemukan pada tingkat itu. Coba ketik nama lain.",
    "bc.choose_region": "Pilih daerah tujuan:",
    "bc.ask_when": (
        "Kapan dikirim? Ketik \"sekarang\", atau tanggal dan jam ({tz}), misalnya: 2026-12-01 07:00, "
        "besok 07:00, 01/12/2026 07.00."
    ),
    "bc.bad_when": (
        "Waktu tidak dikenali. Contoh: sekarang, 2026-12-01 07:00, besok 07:00, 01/12/2026 07.00 "
        "(boleh ditambah WIB/WITA/WIT)."
    ),
    "bc.past_when": "Waktu itu sudah lewat. Masukkan waktu yang akan datang, atau ketik \"sekarang\".",
    "bc.use_buttons": "Silakan pilih salah satu tombol, atau ketik /batal untuk membatalkan.",
    "bc.confirm": (
        "Periksa sekali lagi:\nTujuan: {audience} ({count} pelanggan aktif saat ini)\nWaktu: {when}\n\n{preview}"
    ),
    "bc.btn_confirm": "✅ Jadwalkan siaran",
    "bc.now_label": "sekarang",
    "bc.scheduled": (
        "✅ Siaran #{id} dijadwalkan ({when}). Laporan pengiriman akan dikirim ke Anda setelah selesai. "
        "Batalkan dengan /batal {id} selama belum mulai dikirim."
    ),
    "bc.flow_expired": "Tombol ini sudah tidak berlaku. Ketik /siaran untuk mulai lagi.",
    "bc.list_header": "Siaran terjadwal:",
    "bc.list_row": "#{id} — {when} — {audience} — {status}\n    {snippet}",
    "bc.list_empty": "Tidak ada siaran terjadwal.",
    "bc.status.scheduled": "terjadwal",
    "bc.status.sending": "sedang dikirim",
    "bc.status.done": "selesai",
    "bc.status.cancelled": "dibatalkan",
    "bc.status.missed": "terlewat",
    "bc.cancel_usage": "Format: /batal <nomor siaran>, misalnya /batal 12. Lihat nomornya dengan /jadwal.",
    "bc.cancel_not_found": "Siaran #{id} tidak ditemukan.",
    "bc.cancel_too_late": "Siaran #{id} tidak bisa dibatalkan karena statusnya: {status}.",
    "bc.cancelled": "Siaran #{id} dibatalkan dan tidak akan dikirim.",
    "bc.message": "📢 Pengumuman JagaNetral\n\n{text}",
    "bc.report": (
        "📊 Laporan siaran #{id}\nPenerima: {total}\nTerkirim: {sent}\nGagal: {failed}\n"
        "Memblokir bot: {blocked}\nTidak pasti/tertunda: {unknown}"
    ),
    "bc.missed_report": (
        "⚠️ Siaran #{id} yang dijadwalkan {when} TIDAK dikirim: sistem tidak berjalan pada waktunya dan "
        "jadwalnya sudah lewat lebih dari {minutes} menit. Buat ulang dengan /siaran bila masih perlu."
    ),
    "rem.missed_report": (
        "⚠️ {count} pengingat tahapan TIDAK dikirim karena sistem tidak berjalan pada waktunya:\n{lines}"
    ),
    "rem.missed_line": "• {timeline} — {stage} ({when})",
}


def t(key: str, /, **fields: object) -> str:
    """Return the catalog text for ``key`` with ``fields`` filled in. Unknown keys raise KeyError."""
    text = TEXTS[key]
    return text.format(**fields) if fields else text
