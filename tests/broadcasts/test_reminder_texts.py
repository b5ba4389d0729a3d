"""Reminder texts of the shipped timelines after the legal review of 2026-12 (section 4)."""

from __future__ import annotations

from datetime import date

import pytest

from broadcasts import timeline as tl


@pytest.fixture(scope="module")
def shipped() -> dict[str, tl.Timeline]:
    return {t.id: t for t in tl.load_timelines()}


def all_reminders(shipped: dict[str, tl.Timeline]) -> list[tuple[str, str, str]]:
    return [(t.id, s.id, s.reminder) for t in shipped.values() for s in t.stages]


def test_no_outdated_report_window_sentences(shipped: dict[str, tl.Timeline]) -> None:
    for tid, sid, text in all_reminders(shipped):
        assert "1x24 jam" not in text, (tid, sid)  # M13: it is about reception hours, not handling time
        assert "08.00-16.00" not in text, (tid, sid)  # M14: superseded or uncertain for voting day
        assert "KASN" not in text, (tid, sid)  # dissolved; cases go to BKN


def test_quiet_period_says_reports_are_received_all_day(shipped: dict[str, tl.Timeline]) -> None:
    for tid in ("pemilu-2024", "pilkada-2024", "psu-kukar-2025"):
        assert "menerima laporan 24 jam" in shipped[tid].stage("masa-tenang").reminder, tid


def test_dpr_dprd_candidates_resign_before_joining_a_party(shipped: dict[str, tl.Timeline]) -> None:
    text = shipped["pemilu-2024"].stage("pencalonan-dpr-dprd").reminder
    assert "sebelum menjadi anggota partai" in text  # C1
    assert "setelah ditetapkan sebagai calon" not in text
    assert "tidak dapat ditarik kembali" in text


def test_cltn_never_reads_as_permission_for_campaign_teams(shipped: dict[str, tl.Timeline]) -> None:
    text = shipped["pilkada-2024"].stage("pengumuman-pendaftaran").reminder  # C6
    assert "dalam keadaan apa pun" in text
    assert "tim pemenangan bakal calon, tanpa cuti" not in text
    assert "sebelum penetapan pun sudah dilarang" in shipped["pilkada-2024"].stage("penetapan-calon").reminder


def test_kukar_psu_stages_follow_the_kpu_schedule(shipped: dict[str, tl.Timeline]) -> None:
    k = shipped["psu-kukar-2025"]
    assert k.stage("penetapan-calon-pengganti").start == date(2025, 3, 23)
    assert (k.stage("kampanye-psu").start, k.stage("kampanye-psu").end) == (date(2025, 3, 26), date(2025, 4, 15))
    assert (k.stage("masa-tenang").start, k.stage("masa-tenang").end) == (date(2025, 4, 16), date(2025, 4, 18))
    assert k.stage("pemungutan-suara-ulang").start == date(2025, 4, 19)
