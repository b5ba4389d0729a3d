"""All user-facing Indonesian strings, in one catalog.

Every message the bot shows to a person comes from here, looked up by key with ``t(key, **fields)``.
Keys are grouped by feature; formatting uses ``str.format`` fields. Code, comments and keys are English.

Telegram-HTML texts are listed in ``HTML_KEYS`` and rendered only with ``html_t``, which escapes every field
(``markupsafe.Markup.format``) unless the field is itself ``Markup`` (an ``html_t`` result); ``t`` refuses
them. So a user's "<b>" in a tip reaches the group as text, whatever the call site remembers.
"""

from __future__ import annotations

from datetime import date

from markupsafe import Markup

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
    "common.nothing_to_cancel": "Tidak ada yang sedang berjalan untuk dibatalkan. Ketik /bantuan untuk pilihan.",
    "button.back": "⬅️ Kembali",
    "button.cancel": "✖️ Batal",
    "button.page_prev": "⬅️ Sebelumnya",
    "button.page_next": "Berikutnya ➡️",
    # --- whatsapp (bot/channels/whatsapp.py; /mulai in handlers/subscriptions.py) ----------------
    "whatsapp.reply_with_number": "Balas {choices}.",
    "whatsapp.stop_hint": "Di WhatsApp, balas MULAI kapan saja untuk mengaktifkan langganan Anda lagi.",
    "whatsapp.resumed": (
        "✅ Langganan Anda aktif kembali: {region}, sebagai {role}. Pengingat tahapan pemilu akan dikirim lagi. "
        "Ketik /berhenti kapan saja untuk berhenti."
    ),
    "whatsapp.resume_already": (
        "Langganan Anda masih aktif: {region}, sebagai {role}. Ketik /langganan untuk mengganti daerah."
    ),
    "whatsapp.resume_none": (
        "Anda belum pernah berlangganan, jadi belum ada yang bisa diaktifkan kembali. "
        "Ketik /langganan untuk memilih daerah dan mulai menerima pengingat tahapan pemilu."
    ),
    # --- start / help ----------------------------------------------------------------------------
    "start.welcome": (
        "Halo! Saya JagaNetral, asisten netralitas ASN (PNS dan PPPK) selama Pemilu dan Pilkada.\n\n"
        "Saya bisa:\n"
        "• menjawab pertanyaan \"boleh atau tidak\" seputar netralitas ASN, lengkap dengan dasar hukumnya "
        "— ketik saja pertanyaan Anda, misalnya: boleh gak like postingan paslon di IG?\n"
        "• menerima laporan dugaan pelanggaran dan meneruskannya ke Bawaslu tanpa meneruskan identitas Anda "
        "(/lapor)\n"
        "• mengingatkan Anda di setiap tahapan pemilu di daerah Anda (/langganan)\n\n"
        "Ketik /bantuan untuk daftar perintah."
    ),
    "help.text": (
        "Daftar perintah:\n"
        "/tanya <pertanyaan> — tanya soal netralitas ASN (atau ketik langsung pertanyaannya)\n"
        "/lapor — laporkan dugaan pelanggaran netralitas tanpa meneruskan identitas Anda ke Bawaslu\n"
        "/status <kode> — cek status laporan Anda\n"
        "/hapus <kode> — hapus data kontak Anda dari laporan\n"
        "/jawab <kode> — jawab pertanyaan Bawaslu tentang laporan Anda\n"
        "/langganan — terima pengingat tahapan pemilu untuk daerah Anda\n"
        "/tahapan — tahapan pemilu yang sedang berjalan di daerah Anda\n"
        "/berhenti — berhenti berlangganan (di WhatsApp: balas STOP)\n"
        "/mulai — aktifkan lagi langganan yang sudah berhenti (di WhatsApp: balas MULAI)\n"
        "/bantuan — tampilkan pesan ini"
    ),
    "help.admin": (
        "\n\nPerintah admin:\n"
        "/siaran — jadwalkan siaran\n"
        "/jadwal — daftar siaran terjadwal\n"
        "/batal <id> — batalkan siaran yang belum mulai\n"
        "/pertanyaan — pertanyaan yang belum terjawab (/pertanyaan selesai N: tandai sudah ditangani)\n"
        "/statistik — rekap laporan semua daerah\n"
        "/ekspor — unduh laporan semua daerah (CSV dan grafik, tanpa data pelapor)"
    ),
    "help.group": (
        "Perintah grup Bawaslu:\n"
        "/kasus KODE — tampilkan lagi laporan itu dengan tombol statusnya\n"
        "/statistik — rekap laporan daerah ini\n"
        "/ekspor — unduh laporan daerah ini (CSV dan grafik, tanpa data pelapor)\n\n"
        "Di bawah setiap laporan yang masuk:\n"
        "• tombol status (Diterima, Sedang ditelaah, Ditindaklanjuti, Tidak dapat ditindaklanjuti, Selesai) — "
        "pelapor diberi tahu setiap perubahan status\n"
        "• ❓ Tanya pelapor — kirim pertanyaan kepada pelapor lewat bot; nama Anda dan identitas pelapor "
        "tetap dirahasiakan"
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
    "faq.none_unlogged": (
        "Maaf, kami belum punya jawaban untuk pertanyaan itu. Jika ada dugaan pelanggaran, laporkan lewat "
        "/lapor atau hubungi kantor Bawaslu terdekat."
    ),
    "faq.suggest_note": "Pilih topik yang paling sesuai dengan pertanyaan Anda untuk melihat jawabannya.",
    "faq.weak_note": (
        "Kami belum yakin punya jawaban untuk pertanyaan itu; topik di bawah mungkin terkait. Jika tidak ada "
        "yang cocok, pertanyaan Anda sudah kami catat agar bisa dijawab admin."
    ),
    "faq.weak_note_unlogged": "Kami belum yakin punya jawaban untuk pertanyaan itu; topik di bawah mungkin terkait.",
    "faq.or_maybe": "Atau maksud Anda: {topics}",
    "faq.empty": (
        "Silakan ketik pertanyaan Anda tentang netralitas ASN dalam kalimat, misalnya: boleh gak like "
        "postingan paslon di IG? Untuk melaporkan dugaan pelanggaran, ketik /lapor."
    ),
    "faq.unanswered_hint": (
        "Sudah ditangani (misalnya jawabannya sudah ditambahkan)? Tekan ✅ dengan nomornya, atau ketik "
        "/pertanyaan selesai N."
    ),
    "faq.unanswered_done_button": "✅ {n}",
    "faq.unanswered_resolved": "✅ Ditandai sudah ditangani: \"{text}\"",
    "faq.unanswered_already": "Pertanyaan itu sudah ditandai ditangani sebelumnya.",
    "faq.unanswered_not_found": "Nomor {n} tidak ada di daftar. Ketik /pertanyaan untuk melihat daftar terbaru.",
    "faq.unanswered_usage": (
        "Ketik /pertanyaan untuk melihat daftar, atau /pertanyaan selesai N (nomor dari daftar; boleh "
        "beberapa, misalnya /pertanyaan selesai 1 3) untuk menandai pertanyaan sudah ditangani."
    ),
    "button.start_report": "📝 Mulai lapor",
    "button.tahapan": "🗓️ Lihat tahapan",
    # --- intents (faq/intents.toml): messages that are not a knowledge-base question -----------
    "intent.greeting": (
        "Halo! Saya JagaNetral. Silakan ketik pertanyaan Anda seputar netralitas ASN, misalnya: boleh gak "
        "PNS hadir kampanye? Ketik /bantuan untuk daftar perintah."
    ),
    "intent.thanks": "Sama-sama, semoga membantu! Silakan bertanya lagi kapan saja, atau ketik /bantuan.",
    "intent.lapor": (
        "Untuk melaporkan dugaan pelanggaran netralitas ASN, tekan 📝 Mulai lapor (atau ketik /lapor). "
        "Laporan diteruskan ke Bawaslu sebagai informasi awal, tanpa meneruskan identitas Anda ke Bawaslu. "
        "Cara membuat laporan resmi dan soal kerahasiaan pelapor ada di topik di bawah."
    ),
    "intent.tahapan": (
        "Jadwal tahapan pemilu dan pilkada, termasuk hari pemungutan suara, untuk daerah Anda: ketik "
        "/tahapan <nama daerah> (misalnya: /tahapan Samarinda), atau tekan tombol di bawah bila Anda sudah "
        "berlangganan pengingat (/langganan)."
    ),
    "intent.scope_asn": (
        "Maaf, pertanyaan itu di luar cakupan JagaNetral: kami hanya menjawab soal netralitas ASN dalam "
        "pemilu dan pilkada. Untuk pendaftaran CPNS/PPPK, gaji, tunjangan dan urusan kepegawaian lain, "
        "silakan cek situs resmi BKN (bkn.go.id, sscasn.bkn.go.id) atau bagian kepegawaian instansi Anda."
    ),
    "intent.english": (
        "Maaf, JagaNetral baru melayani pertanyaan dalam bahasa Indonesia. Contoh: boleh gak PNS hadir kampanye? "
        "Ketik /bantuan untuk daftar perintah."
    ),
    "intent.berhenti": (
        "Untuk berhenti menerima pengingat tahapan dan pengumuman, ketik /berhenti. Untuk berlangganan lagi, "
        "ketik /langganan."
    ),
    "intent.mulai": (
        "Untuk mengaktifkan lagi langganan pengingat Anda, ketik /mulai; untuk memilih daerah baru, ketik "
        "/langganan."
    ),
    "intent.no_flow": (
        "Tidak ada langkah yang sedang menunggu jawaban, jadi tidak ada yang dibatalkan atau dilanjutkan. "
        "Ketik /bantuan untuk daftar perintah, /lapor untuk melapor, atau tulis pertanyaan Anda seputar "
        "netralitas ASN."
    ),
    "intent.help": (
        "Ketik /bantuan untuk daftar perintah. Anda juga bisa langsung menulis pertanyaan seputar netralitas "
        "ASN, misalnya: boleh gak PNS hadir kampanye? Untuk melaporkan dugaan pelanggaran, ketik /lapor."
    ),
    "intent.langganan": (
        "Untuk menerima pengingat tahapan pemilu di daerah Anda, ketik /langganan lalu pilih daerah dan peran "
        "Anda (ASN atau masyarakat umum). /tahapan menampilkan tahapan yang sedang berjalan, /berhenti "
        "menghentikan pengingat."
    ),
    "intent.hapus": (
        "Ketik /hapus <kode laporan> (misalnya /hapus JN-7KQ3-MX9P) untuk menghapus data kontak Anda dari "
        "laporan itu: Bawaslu tidak bisa lagi bertanya kepada Anda lewat bot. Isi laporan yang sudah diteruskan "
        "tetap ada pada Bawaslu. Kode laporan Anda terlihat dengan /status."
    ),
    "intent.scope_choice": (
        "JagaNetral bersikap netral: kami tidak menilai atau menyarankan calon mana pun. Pilihan Anda "
        "rahasia dan Anda sendiri yang menentukan di bilik suara. Profil, visi dan misi resmi para calon "
        "bisa dilihat di infopemilu.kpu.go.id."
    ),
    # --- subscriptions (handlers/subscriptions.py) --------------------------------------------
    "sub.ask_region": (
        "Pengingat tahapan pemilu dikirim sesuai daerah Anda. Pilih provinsi di bawah, atau ketik nama "
        "kabupaten/kota atau provinsi Anda (misalnya: Kukar, Samarinda, Kaltim)."
    ),
    "sub.current": "Langganan Anda saat ini: {region}, sebagai {role}. Pilih daerah baru untuk menggantinya.",
    "sub.pick_kabkota": "{province}: pilih kabupaten/kota Anda, atau seluruh provinsi.",
    "sub.whole_province": "Seluruh {province}",
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
        "Ketik /mulai untuk berlangganan kembali di daerah yang sama, atau /langganan untuk memilih daerah."
    ),
    "sub.not_subscribed": "Anda belum berlangganan. Ketik /langganan untuk mulai.",
    "sub.already_stopped": (
        "Langganan Anda ({region}) sudah berhenti sebelumnya; tidak ada pengingat yang dikirim. "
        "Ketik /mulai untuk mengaktifkannya lagi, atau /langganan untuk memilih daerah lain."
    ),
    "sub.cancelled": "Batal berlangganan; tidak ada yang diubah. Ketik /langganan untuk mulai lagi.",
    "sub.stage.header": "Tahapan pemilu untuk {region}:",
    "sub.stage.current": "• Sedang berjalan: {stage} — {timeline} ({dates})",
    "sub.stage.no_current": "• Sedang berjalan: tidak ada tahapan hari ini.",
    "sub.stage.next": "• Berikutnya: {stage} — {timeline} ({dates})",
    "sub.stage.none": "Belum ada tahapan pemilu yang dijadwalkan untuk {region}.",
    "sub.stage.next_unscheduled": (
        "Pemilu berikutnya: {election} — jadwal tahapannya belum dimuat di bot ini. Pengingat dikirim setelah "
        "jadwal resmi KPU dimuat."
    ),
    "sub.stage.kind.pemilu": "Pemilu",
    "sub.stage.kind.pilkada": "Pilkada",
    "sub.stage.need_region": (
        "Ketik /tahapan <nama daerah> (misalnya: /tahapan Kukar), atau berlangganan dulu lewat /langganan."
    ),
    "sub.stage.need_region_group": "Di grup, ketik /tahapan <nama daerah>, misalnya: /tahapan Kukar.",
    "sub.stage.not_found": (
        "Daerah \"{text}\" tidak kami temukan. Coba nama lain, misalnya: /tahapan Kutai Kartanegara, "
        "/tahapan Samarinda, /tahapan Kaltim."
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
    "bc.aud.pub": "Masyarakat umum saja",
    "bc.audience.all": "semua pelanggan",
    "bc.audience.asn": "pelanggan ASN",
    "bc.audience.publik": "pelanggan masyarakat umum",
    "bc.audience.region": "pelanggan di {region}",
    "bc.ask_region_prov": "Ketik nama provinsi tujuan (misalnya: Kalimantan Timur atau Kaltim).",
    "bc.ask_region_kab": "Ketik nama kabupaten/kota tujuan (misalnya: Kutai Kartanegara atau Kukar).",
    "bc.region_not_found": "Daerah \"{text}\" tidak ditemukan pada tingkat itu. Coba ketik nama lain.",
    "bc.choose_region": "Pilih daerah tujuan:",
    "bc.region_is_province": (
        "\"{text}\" adalah provinsi ({region}). Untuk seluruh provinsi, ketik /batal lalu pilih \"Satu provinsi\"; "
        "atau ketik nama kabupaten/kota tujuan."
    ),
    "bc.region_is_kabkota": (
        "\"{text}\" adalah kabupaten/kota ({region}). Untuk satu kabupaten/kota, ketik /batal lalu pilih "
        "\"Satu kabupaten/kota\"; atau ketik nama provinsi tujuan."
    ),
    "bc.region_chosen": "Tujuan: {region}.",
    "bc.no_recipients": (
        "⚠️ Belum ada pelanggan aktif untuk tujuan ini: bila dijadwalkan sekarang, siaran ini tidak diterima "
        "siapa pun."
    ),
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
    # --- tips (handlers/tips/) -----------------------------------------------------------------
    "tips.intro": (
        "📝 Lapor dugaan pelanggaran netralitas ASN, tanpa meneruskan identitas Anda ke Bawaslu.\n\n"
        "ℹ️ Privasi: Bawaslu hanya menerima isi laporan, bukan nama, nomor, atau akun Anda. Agar Bawaslu bisa "
        "bertanya lewat bot, pengelola JagaNetral menyimpan alamat balasan Anda dalam bentuk terenkripsi; secara "
        "teknis pengelola dapat membukanya. Alamat itu dihapus saat Anda mengetik /hapus, atau otomatis ketika "
        "masa simpan berakhir setelah laporan ditutup; kode samaran yang menautkan laporan ke akun Anda (untuk "
        "/status) tidak ikut dihapus oleh /hapus, tetapi hanya disimpan sampai masa simpan itu berakhir, lalu "
        "dihapus juga. "
        "Telegram dan WhatsApp (termasuk Twilio, penyedia layanan WhatsApp kami) juga mencatat pesan dan "
        "metadata seperti nomor dan waktu, dan menyimpan berkas asli yang Anda kirim; chat dengan bot Telegram "
        "tidak terenkripsi ujung ke ujung. Isi laporan sendiri (siapa yang hadir, tempat, tangkapan layar) bisa "
        "membuat Anda dikenali.\n\n"
        "Langkah 1/6 — Di mana kejadiannya? Pilih provinsi, atau ketik nama kabupaten/kota "
        "(misalnya: Kukar, PPU, KTT, Samarinda)."
    ),
    "tips.ask_province": (
        "Langkah 1/6 — Pilih provinsi tempat kejadian, atau ketik nama kabupaten/kota "
        "(misalnya: Kukar, PPU, KTT)."
    ),
    "tips.ask_kabkota": "{province}: pilih kabupaten/kota tempat kejadian.",
    "tips.whole_province": "Tidak tahu / seluruh {province}",
    "tips.region_not_found": (
        "Daerah \"{text}\" tidak ditemukan. Pilih provinsi dari tombol, atau ketik nama lain "
        "(misalnya: Kutai Kartanegara, Kukar, Balikpapan)."
    ),
    "tips.region_choose": "Maksud Anda yang mana?",
    "tips.ask_category": "Langkah 2/6 — Daerah: {region}.\nApa jenis dugaan pelanggarannya?",
    "tips.cat.medsos": "Media sosial (posting, like, share, komentar)",
    "tips.cat.kampanye": "Hadir kampanye / deklarasi calon",
    "tips.cat.atribut": "Memasang spanduk / atribut calon",
    "tips.cat.fasilitas": "Memakai fasilitas negara",
    "tips.cat.keputusan": "Keputusan/tindakan yang menguntungkan calon",
    "tips.cat.ajakan": "Mengumpulkan orang / ajakan / pemberian barang",
    "tips.cat.parpol": "Anggota atau pengurus partai politik",
    "tips.cat.kades": "Kepala desa / perangkat desa",
    "tips.cat.lain": "Lainnya",
    "tips.ask_who": (
        "Langkah 3/6 — Siapa yang diduga melanggar? Tulis yang Anda ketahui: nama, jabatan, instansi/OPD "
        "(maksimal {max} karakter). Jika tidak tahu, tekan Lewati."
    ),
    "tips.ask_place": (
        "Langkah 4/6 — Di mana dan kapan kejadiannya? Misalnya: Kantor Camat Tenggarong, Senin 14 Oktober "
        "sekitar pukul 10.00 (maksimal {max} karakter)."
    ),
    "tips.ask_what": "Langkah 5/6 — Ceritakan apa yang terjadi (maksimal {max} karakter).",
    "tips.ask_evidence": (
        "Langkah 6/6 — Kirim bukti bila ada: foto, video, dokumen (maksimal {max_media} berkas), atau tautan "
        "media sosial (Facebook, Instagram, TikTok, X, YouTube, dll.; maksimal {max_links} tautan). Setelah "
        "mengirim bukti, tekan Selesai; tekan Lewati bila tidak ada bukti.\n\n"
        "Saran: sebelum mengirim, tutupi hal yang bisa menunjukkan diri Anda (nama akun Anda di tangkapan "
        "layar, wajah Anda). Lokasi GPS pada foto kami hapus dari salinan yang diteruskan ke Bawaslu; berkas asli "
        "tetap tersimpan di server Telegram/WhatsApp."
    ),
    "tips.evidence_added": "Bukti tersimpan sementara: {media} berkas, {links} tautan. Kirim lagi, atau tekan Selesai.",
    "tips.evidence_hint": (
        "Kirim foto, video, dokumen, atau tautan (diawali https://), lalu tekan Selesai. "
        "Tekan Lewati bila tidak ada bukti."
    ),
    "tips.evidence_hint_more": "Kirim bukti lain (foto, video, dokumen, atau tautan https://), atau tekan Selesai.",
    "tips.current_text": "Teks yang tersimpan:\n{text}\n\nTekan Pakai teks ini, atau kirim teks pengganti.",
    "tips.btn_keep": "✅ Pakai teks ini",
    "tips.jawab_usage": "Format: /jawab <kode laporan>, misalnya /jawab JN-7KQ3-MX9P.",
    "tips.jawab_no_question": (
        "Bawaslu belum mengajukan pertanyaan tentang laporan {code}, jadi belum ada yang perlu dijawab. Bila ada "
        "pertanyaan, Anda akan menerimanya di sini. Cek status: /status {code}"
    ),
    "tips.answer_unrouted": (
        "Laporan ini belum diteruskan ke grup Bawaslu, jadi belum ada yang bisa dijawab. Cek status: /status"
    ),
    "tips.evidence_cleared": "Semua bukti dihapus dari laporan ini.",
    "tips.link_invalid": (
        "Tautan \"{link}\" tidak bisa diterima. Kirim alamat lengkap yang diawali https://, misalnya "
        "https://www.instagram.com/p/… — tautan javascript:, alamat IP, atau situs lain tanpa https tidak "
        "diterima."
    ),
    "tips.too_many_media": "Maksimal {max} berkas bukti per laporan; berkas ini tidak disimpan. Tekan Selesai.",
    "tips.too_many_links": "Maksimal {max} tautan per laporan; sisanya tidak disimpan.",
    "tips.media_too_big": "Berkas terlalu besar (maksimal {max_mb} MB). Kirim versi yang lebih kecil, atau tautannya.",
    "tips.media_unsupported": "Jenis berkas ini tidak diterima. Kirim foto, video, atau dokumen.",
    "tips.text_too_long": "Teks terlalu panjang ({n} karakter; maksimal {max}). Silakan persingkat.",
    "tips.text_empty": "Silakan jawab dengan teks, atau gunakan tombol.",
    "tips.none": "(tidak diisi)",
    "tips.evidence_summary": "{media} berkas, {links} tautan",
    "tips.review": (
        "Periksa laporan Anda sebelum dikirim:\n\n"
        "Daerah: {region}\nJenis: {category}\nTerlapor: {who}\nTempat & waktu: {place}\n"
        "Kejadian: {what}\nBukti: {evidence}"
    ),
    "tips.review_unstripped": (
        "⚠️ Metadata berkas berikut TIDAK bisa dihapus otomatis (bisa memuat nama pembuat, perangkat, atau "
        "lokasi): {files}. Bawaslu akan melihat tanda itu. Buang berkas dengan tombol di bawah bila berkas itu "
        "bisa menunjukkan identitas Anda; dengan Kirim, berkas dikirim apa adanya."
    ),
    "tips.file_label": "berkas ke-{n} ({kind})",
    "tips.kind.photo": "foto",
    "tips.kind.video": "video",
    "tips.kind.document": "dokumen",
    "tips.btn_drop": "🗑 Buang berkas ke-{n}",
    "tips.file_dropped": "Berkas ke-{n} dikeluarkan dari laporan.",
    "tips.unstrippable_found": (
        "Laporan belum dikirim: setelah diperiksa, ada berkas yang metadatanya ternyata tidak bisa dihapus."
    ),
    "tips.review_identifying": (
        "⚠️ Tulisan Anda memuat {what}. Itu bisa menunjukkan siapa Anda: Bawaslu menerima teks persis seperti "
        "ditulis. Tekan tombol Ubah di bawah untuk memperbaikinya, atau Kirim bila memang disengaja."
    ),
    "tips.review_share_links": (
        "⚠️ Tautan {links} adalah tautan pendek dari tombol Bagikan. Tautan seperti itu bisa menunjukkan akun "
        "yang membagikannya. Sebaiknya buang tautan itu dengan tombol di bawah, buka tautannya sendiri, lalu "
        "kirim alamat lengkap dari peramban (tekan Kembali) atau tangkapan layarnya."
    ),
    "tips.btn_drop_link": "🗑 Buang tautan ke-{n}",
    "tips.link_dropped": "Tautan ke-{n} dikeluarkan dari laporan.",
    "tips.identifying.phone": "nomor telepon",
    "tips.identifying.email": "alamat e-mail",
    "tips.identifying.nik": "nomor 16 angka seperti NIK",
    "tips.identifying.self": "keterangan tentang diri Anda (misalnya \"rumah saya\", \"saya tinggal di\")",
    "tips.field.who": "Terlapor",
    "tips.field.place": "Tempat & waktu",
    "tips.field.what": "Kejadian",
    "tips.btn_edit": "✏️ Ubah: {field}",
    "tips.notice": (
        "ℹ️ Penting: laporan tanpa identitas ini adalah INFORMASI AWAL bagi Bawaslu, bukan laporan resmi "
        "(laporan pelanggaran). Bawaslu dapat menelusurinya dan menjadikannya temuan, tetapi tidak wajib "
        "memprosesnya seperti laporan resmi, jadi kirim secepatnya. Sampaikan hanya fakta yang Anda ketahui.\n\n"
        "Jika Anda bersedia menjadi pelapor resmi (WNI yang punya hak pilih): ajukan laporan paling lambat 7 hari "
        "sejak pelanggaran diketahui ke kantor Bawaslu kabupaten/kota, provinsi, atau Panwaslu kecamatan tempat "
        "kejadian. Laporan resmi harus memuat nama dan alamat Anda dengan KTP dan tanda tangan yang cocok, pihak "
        "terlapor, waktu dan tempat, uraian kejadian, serta bukti (dan saksi bila ada). Bisa juga lewat SIGAP "
        "LAPOR (sigaplapor.bawaslu.go.id), tetapi bukti pengiriman, KTP dan bukti harus diserahkan langsung ke "
        "kantor Bawaslu paling lama 2 hari sesudahnya."
    ),
    "tips.btn_send": "✅ Kirim laporan",
    "tips.btn_skip": "Lewati",
    "tips.btn_done": "✅ Selesai",
    "tips.btn_clear": "🗑 Hapus semua bukti",
    "tips.sent": (
        "✅ Laporan Anda sudah kami terima dan diteruskan ke Bawaslu {target}.\n\n"
        "Kode laporan: {code}\n"
        "Simpan kode ini. Cek status kapan saja: /status {code}\n"
        "Hapus data kontak Anda dari laporan ini: /hapus {code}\n\n"
        "Identitas Anda tidak diteruskan ke Bawaslu. Bila Bawaslu bertanya, pertanyaannya datang lewat bot "
        "ini dengan kode tersebut."
    ),
    "tips.sent_unrouted": (
        "✅ Laporan Anda sudah kami catat. Kode laporan: {code}\n"
        "Grup Bawaslu untuk daerah ini belum terhubung ke bot; laporan diteruskan otomatis begitu grupnya "
        "terhubung. Sampai saat itu /status menulis \"Menunggu diteruskan ke Bawaslu\".\n"
        "Cek status: /status {code} — hapus data kontak Anda: /hapus {code}"
    ),
    "tips.target_default": "melalui grup koordinasi",
    "tips.rate_limited": (
        "Maaf, Anda sudah mengirim {max} laporan hari ini (batas harian untuk mencegah penyalahgunaan). "
        "Silakan coba lagi besok, atau laporkan langsung ke kantor Bawaslu terdekat."
    ),
    "tips.fetch_failed": (
        "Maaf, berkas bukti ke-{n} tidak bisa kami ambil atau melebihi batas {max_mb} MB, jadi dikeluarkan "
        "dari laporan. Kirim ulang berkasnya, atau tekan Selesai untuk melanjutkan tanpa berkas itu."
    ),
    "tips.cancelled": "Laporan dibatalkan; tidak ada yang disimpan.",
    "tips.use_buttons": "Silakan pilih salah satu tombol, atau ketik \"batal\" untuk membatalkan.",
    "tips.expired": "Sesi laporan sudah berakhir. Ketik /lapor untuk memulai lagi.",
    "tips.status.diterima": "Diterima",
    "tips.status.ditelaah": "Sedang ditelaah",
    "tips.status.ditindaklanjuti": "Ditindaklanjuti",
    "tips.status.tidak_dapat": "Tidak dapat ditindaklanjuti",
    "tips.status.selesai": "Selesai",
    "tips.event.status": "status: {status}",
    "tips.event.question": "Bawaslu mengajukan pertanyaan",
    "tips.event.answer": "Anda menjawab pertanyaan",
    "tips.event.deleted": "data kontak dihapus",
    "tips.event.created": "laporan diterima",
    "tips.status_detail": (
        "Laporan {code}\nDaerah: {region}\nJenis: {category}\nDikirim: {created}\nStatus: {status}\n\n"
        "Riwayat:\n{history}"
    ),
    "tips.history_row": "• {when} — {text}",
    "tips.not_found": "Kode laporan tidak ditemukan. Periksa kembali kodenya (contoh: JN-7KQ3-MX9P).",
    "tips.my_list_header": "Laporan Anda:",
    "tips.my_list_row": "• {code} — {category} — {status} ({created})",
    "tips.my_list_footer": "Detail: /status <kode>",
    "tips.my_list_empty": "Belum ada laporan dari akun ini. Ketik /lapor untuk melapor.",
    "tips.hapus_usage": (
        "Format: /hapus <kode laporan>, misalnya /hapus JN-7KQ3-MX9P. Ini menghapus data kontak Anda dari "
        "laporan itu: Bawaslu tidak bisa lagi bertanya kepada Anda lewat bot."
    ),
    "tips.hapus_done": (
        "Data kontak Anda untuk laporan {code} sudah dihapus, juga salinan pesan bot kepada Anda yang tersimpan "
        "di sistem. Bawaslu tidak bisa lagi menghubungi Anda lewat bot untuk laporan ini; isi laporan tetap ada "
        "pada Bawaslu.\n\n"
        "Yang masih disimpan: kode samaran (kode acak, bukan nomor, nama, atau akun Anda) yang menautkan laporan "
        "ini ke akun ini, supaya /status {code} tetap bisa dipakai. Kode samaran itu dihapus {days} hari setelah "
        "laporan ditutup (bila laporan dibuka kembali, dihitung dari penutupan berikutnya)."
    ),
    "tips.hapus_confirm": (
        "Hapus data kontak Anda dari laporan {code}? Bawaslu tidak akan bisa lagi bertanya atau memberi kabar "
        "kepada Anda lewat bot untuk laporan ini, dan ini tidak bisa dibatalkan. Isi laporan tetap ada pada "
        "Bawaslu."
    ),
    "tips.btn_hapus": "🗑 Ya, hapus data kontak",
    "tips.hapus_kept": "Tidak jadi: data kontak untuk laporan ini tetap disimpan.",
    "tips.hapus_already": "Data kontak untuk laporan {code} sudah terhapus sebelumnya.",
    "tips.status_notice": "ℹ️ Status laporan {code} diperbarui oleh Bawaslu: {status}.\nRiwayat: /status {code}",
    "tips.status_closed_note": "\nLaporan ini sudah ditutup. Data kontak Anda dihapus otomatis dalam {days} hari.",
    "tips.question": (
        "❓ Bawaslu bertanya tentang laporan {code}:\n\n{question}\n\n"
        "Tekan Jawab (atau ketik /jawab {code}), atau langsung tulis jawaban Anda. Identitas Anda tetap tidak "
        "diteruskan ke Bawaslu."
    ),
    "tips.btn_answer": "✍️ Jawab",
    "tips.ask_answer": (
        "Tulis jawaban Anda untuk Bawaslu (laporan {code}), maksimal {max} karakter. "
        "Jangan cantumkan identitas Anda kecuali Anda menghendakinya."
    ),
    "tips.answer_sent": "✅ Jawaban Anda sudah diteruskan ke Bawaslu (laporan {code}).",
    "tips.answer_unavailable": "Laporan ini tidak bisa dijawab lagi.",
    "tips.answer_cancelled": "Batal menjawab.",
    "tips.typed_offer": (
        "Apakah ini jawaban untuk pertanyaan Bawaslu tentang laporan {code}?\n\n“{text}”\n\n"
        "Jika ya, pesan ini diteruskan ke Bawaslu tanpa identitas Anda."
    ),
    "tips.btn_typed_send": "✅ Ya, kirim sebagai jawaban",
    "tips.btn_typed_not": "❓ Bukan, ini pertanyaan lain",
    "tips.typed_dropped": "Baik, pesan tadi tidak dikirim ke Bawaslu.",
    "tips.typed_gone": "Tidak ada pesan yang menunggu untuk dikirim.",
    "tips.typed_expired": (
        "Pesan tadi sudah terlalu lama menunggu dan tidak dikirim. Untuk menjawab Bawaslu, ketik /jawab {code}."
    ),
    "tips.draft_waiting": (
        "Anda masih punya laporan yang belum selesai (daerah: {region}). Lanjutkan dari langkah terakhir, atau "
        "mulai laporan baru (yang lama dibuang)?"
    ),
    "tips.choose_resume": "Pilih dulu salah satu tombol di bawah: teks Anda belum disimpan.",
    "tips.btn_resume": "▶️ Lanjutkan",
    "tips.btn_restart": "🆕 Mulai baru",
    "tips.resume": "Laporan Anda yang belum selesai masih tersimpan; lanjutkan dari langkah terakhir.",
    # --- group (handlers/tips/; HTML: every field is escaped by the handler) -----------------
    "group.tip": (
        "<b>🚨 Informasi awal: dugaan pelanggaran netralitas ASN</b>\n"
        "Kode: <code>{code}</code>\nDaerah: {region}\nJenis: {category}\nTerlapor: {who}\n"
        "Tempat &amp; waktu: {place}\nKejadian:\n{what}\n{links}Bukti berkas: {media}\n"
        "Diterima: {created}\nStatus: {status}\n\n"
        "<i>Identitas pelapor tidak diteruskan ke Bawaslu. Ini informasi awal, bukan laporan resmi, dan dapat "
        "ditelusuri sebagai temuan. Gunakan tombol untuk memperbarui status atau bertanya kepada pelapor "
        "lewat bot.</i>"
    ),
    "group.links": "Tautan:\n{rows}\n",
    "group.link_row": "• [{label}] {url}",
    "group.media_sent": "{n} berkas, dikirim terpisah (metadata foto sudah dihapus)",
    "group.media_unstripped": "; perhatian: metadata {n} video/dokumen TIDAK dihapus",
    "group.media_none": "tidak ada",
    "group.what_separate": "(panjang, dikirim pada pesan berikutnya)",
    "group.what_part": "Kejadian — laporan {code}:\n{text}",
    "group.media_caption": "Bukti {n}/{total} — laporan {code}",
    "group.media_caption_unstripped": " ⚠️ metadata berkas ini TIDAK dihapus",
    "group.btn_ask": "❓ Tanya pelapor",
    "group.status_changed": "Status laporan <code>{code}</code> diubah menjadi: <b>{status}</b>.",
    "group.reporter_told": " Pelapor sudah diberi tahu.",
    "group.reporter_gone": " Pelapor tidak dapat diberi tahu (data kontak sudah dihapus).",
    "group.status_same": "Status laporan <code>{code}</code> memang sudah: <b>{status}</b>.",
    "group.kasus": "Laporan <code>{code}</code> ({category}, {region}). Status: <b>{status}</b>.",
    "group.kasus_usage": "Tulis kodenya, misalnya: /kasus JN-AB12-CD34",
    "group.not_allowed": (
        "Maaf, laporan ini tidak diteruskan ke grup ini. Hanya grup Bawaslu daerah tujuan laporan (atau admin "
        "JagaNetral) yang dapat menindaklanjutinya."
    ),
    "group.tip_not_found": "Laporan tidak ditemukan.",
    "group.ask_prompt": (
        "Balas (reply) pesan ini dengan pertanyaan untuk pelapor laporan <code>{code}</code> (maksimal {max} "
        "karakter). Hanya balasan atas pesan ini yang diteruskan, tanpa nama Anda. Berlaku {minutes} menit; "
        "/batal untuk membatalkan."
    ),
    "group.ask_prompt_confirm": (
        "Tulis pertanyaan untuk pelapor laporan <code>{code}</code> (maksimal {max} karakter). Sebelum dikirim, "
        "Anda diminta memastikannya; nama Anda tidak ikut dikirim. Berlaku {minutes} menit; /batal untuk "
        "membatalkan."
    ),
    "group.ask_confirm": "Kirim ke pelapor:\n\n{question}\n\n?",
    "group.btn_ask_send": "✅ Kirim ke pelapor",
    "group.ask_expired": "Waktu untuk menulis pertanyaan sudah habis. Tekan ❓ Tanya pelapor lagi bila perlu.",
    "group.ask_gone": "Pertanyaan ini sudah tidak berlaku. Tekan ❓ Tanya pelapor lagi bila perlu.",
    "group.reopen_confirm": (
        "Laporan <code>{code}</code> sudah ditutup (<b>{old}</b>). Buka kembali dengan status <b>{new}</b>? "
        "Pelapor akan diberi tahu."
    ),
    "group.btn_reopen": "🔓 Ya, buka kembali",
    "group.reopen_cancelled": "Laporan tetap ditutup.",
    "group.ask_sent": (
        "Pertanyaan untuk pelapor laporan <code>{code}</code> dikirim lewat bot. Bila tidak sampai, grup ini "
        "diberi tahu."
    ),
    "group.ask_undelivered": (
        "⚠️ Pertanyaan untuk pelapor laporan <code>{code}</code> tidak sampai ke pelapor: pelapor tidak bisa "
        "dihubungi lewat bot saat ini (misalnya bot diblokir, atau pelapor sudah lama tidak membuka percakapan "
        "dengan bot). Jawaban mungkin tidak akan datang."
    ),
    "group.ask_no_contact": (
        "Pelapor laporan <code>{code}</code> tidak bisa dihubungi lagi (data kontak sudah dihapus)."
    ),
    "group.ask_cancelled": "Pertanyaan untuk pelapor dibatalkan; tidak ada yang dikirim.",
    "group.ask_empty": "Pertanyaan tidak boleh kosong. Tulis pertanyaannya, atau ketik \"batal\".",
    "group.answer": "💬 Jawaban pelapor untuk laporan <code>{code}</code>:\n\n{answer}",
    "group.stats": (
        "<b>Rekap laporan — {scope}</b>\nTotal: {total}\n\n<b>Per jenis</b>\n{by_category}\n\n"
        "<b>Per status</b>\n{by_status}\n\n<b>Per minggu (ISO)</b>\n{by_week}"
    ),
    "group.stats_row": "• {label}: {n}",
    "group.stats_empty": "Belum ada laporan untuk {scope}.",
    "group.scope_group": "grup ini",
    "group.scope_all": "semua daerah",
    "group.export_caption": "Ekspor laporan {scope}: {n} laporan (tanpa data pelapor)",
    "group.chart_caption": "Grafik laporan per minggu per jenis — {scope}",
    "group.chart_title": "Laporan per minggu (ISO) per jenis",
    "group.chart_ylabel": "Jumlah laporan",
    # --- dates, time zones, reminder headings (format_date_id, zone_label below; broadcasts/timeline.py) -------
    "date.month.1": "Januari",
    "date.month.2": "Februari",
    "date.month.3": "Maret",
    "date.month.4": "April",
    "date.month.5": "Mei",
    "date.month.6": "Juni",
    "date.month.7": "Juli",
    "date.month.8": "Agustus",
    "date.month.9": "September",
    "date.month.10": "Oktober",
    "date.month.11": "November",
    "date.month.12": "Desember",
    "date.day": "{day} {month} {year}",
    "date.range": "{start} s.d. {end}",
    "zone.Asia/Jakarta": "WIB",
    "zone.Asia/Makassar": "WITA",
    "zone.Asia/Jayapura": "WIT",
    "reminder.lead.today": "Hari ini",
    "reminder.lead.tomorrow": "Besok",
    "reminder.lead.days": "{n} hari lagi",
    "reminder.lead.starts": "Dimulai {lead}",
    "reminder.heading": "🗓️ {timeline}\n{lead}: {stage} ({when}).\n\n{text}",
    # --- console chat (bot/channels/console.py, bot/app/chat.py) ------------------------------------
    "console.banner": (
        "JagaNetral — obrolan konsol. Ketik /start untuk mulai. Tombol tampil sebagai nomor: ketik nomornya.\n"
        "::grup — masuk ke grup Bawaslu simulasi (tempat laporan masuk), ::pribadi — kembali, "
        "::keluar atau Ctrl-C — keluar."
    ),
    "console.bye": "Sampai jumpa.",
    "console.attachment": "[lampiran: {label}]",
    "console.attachment_file": "lampiran-{n}",
    "evidence.other_link": "tautan lain",
    "console.to_group": (
        "Anda sekarang anggota grup Bawaslu simulasi: laporan masuk ke sini. Ketik ::pribadi untuk kembali."
    ),
    "console.to_private": "Kembali ke chat pribadi Anda dengan bot. Ketik ::grup untuk masuk ke grup Bawaslu.",
    "console.saved": "→ disimpan di {path}",
    "console.routing_all": (
        "ℹ️ Tanpa berkas konfigurasi: laporan dari semua daerah diteruskan ke grup Bawaslu simulasi "
        "(ketik ::grup untuk melihatnya)."
    ),
    "console.routing_none": (
        "⚠️ Konfigurasi tidak memuat [bawaslu_groups]: laporan disimpan, tetapi tidak diteruskan ke grup mana "
        "pun (juga tidak ke ::grup). Tambahkan \"default\" = <id grup> agar semua daerah punya grup."
    ),
    "console.routing_missing": (
        "⚠️ Daerah tanpa grup Bawaslu di [bawaslu_groups] — laporan dari sana disimpan, tetapi tidak masuk ke "
        "::grup: {regions}. Tambahkan \"default\" = <id grup> untuk menampung daerah lain."
    ),
    "console.routing_partial": "{province} ({missing} dari {total} kab/kota)",
    # --- numbered choices on channels without buttons (console, WhatsApp) ---
    "choice.out_of_range": "Pilihan {n} tidak ada; ketik 1–{max}.",
    "choice.out_of_range_one": "Pilihan {n} tidak ada; ketik 1.",
    "choice.type_words": "Atau ketik: {words}",
    # --- delivery alerts to admins (bot/app/alerts.py) and the reporter's waiting status ---
    "tips.status.menunggu": "Menunggu diteruskan ke Bawaslu",
    "alert.tip_unrouted": (
        "⚠️ Laporan {code} (daerah {region}) belum punya grup Bawaslu tujuan, jadi belum diteruskan. "
        "Tambahkan grupnya di [bawaslu_groups]; laporan diteruskan otomatis setelah bot dimulai ulang."
    ),
    "alert.tip_failed": (
        "⚠️ Laporan {code} GAGAL diteruskan ke grup Bawaslu ({error}). Periksa id grup di [bawaslu_groups] "
        "dan apakah bot masih anggota grup itu. Cek: python -m bot doctor"
    ),
    "alert.tip_stuck": (
        "⚠️ Laporan {code} belum sampai ke grup Bawaslu setelah {minutes} menit ({attempts} percobaan; "
        "terakhir: {error}). Bot terus mencoba. Cek: python -m bot doctor"
    ),
    "alert.given_up": (
        "⚠️ {n} pesan tidak terkirim dan tidak dicoba lagi ({by_purpose}). Cek: python -m bot doctor"
    ),
    "alert.group_removed": (
        "⚠️ Bot dikeluarkan dari grup Bawaslu {chat} ({region}). Laporan untuk grup itu tidak bisa terkirim "
        "sampai bot ditambahkan kembali."
    ),
    "alert.group_migrated": (
        "ℹ️ Grup Bawaslu {old} sudah menjadi supergroup {new}. Laporan kini dikirim ke grup baru; ubah id grup "
        "di [bawaslu_groups] menjadi {new}."
    ),
}


HTML_KEYS: frozenset[str] = frozenset({
    "group.tip", "group.links", "group.link_row", "group.status_changed", "group.status_same", "group.kasus",
    "group.reopen_confirm", "group.ask_prompt", "group.ask_prompt_confirm", "group.ask_confirm", "group.ask_sent",
    "group.ask_undelivered", "group.ask_no_contact", "group.answer", "group.stats", "group.stats_row",
})


def t(key: str, /, **fields: object) -> str:
    """Return the catalog text for ``key`` with ``fields`` filled in. Unknown keys raise KeyError."""
    if key in HTML_KEYS:
        raise KeyError(f"{key} is an HTML text: render it with html_t")
    text = TEXTS[key]
    return text.format(**fields) if fields else text


def html_t(key: str, /, **fields: object) -> Markup:
    """An HTML catalog text with every field HTML-escaped (``Markup`` fields are inserted as they are)."""
    if key not in HTML_KEYS:
        raise KeyError(f"{key} is not an HTML text: render it with t")
    return Markup(TEXTS[key]).format(**fields)  # noqa: S704 (our own catalog text; the fields are escaped)


def format_date_id(day: date) -> str:
    """``date(2024, 2, 14)`` → ``"14 Februari 2024"``."""
    return t("date.day", day=day.day, month=t(f"date.month.{day.month}"), year=day.year)


def zone_label(tz: str) -> str:
    """"Asia/Makassar" → "WITA"; a zone outside Indonesia's three keeps its IANA name."""
    return TEXTS.get(f"zone.{tz}", tz)
