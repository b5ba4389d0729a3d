"""broadcasts.timeline: shipped election timelines, reminder instants per time zone, validation."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from broadcasts import timeline as tl
from broadcasts.timeline import TimelineError, load_timeline, load_timelines

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"


@pytest.fixture(scope="module")
def shipped() -> dict[str, tl.Timeline]:
    return {t.id: t for t in load_timelines()}


# ------------------------------------------------------------------------------------ shipped data


def test_shipped_files_load(shipped: dict[str, tl.Timeline]) -> None:
    assert {"pemilu-2024", "pilkada-2024", "pemilu-2029", "psu-mahulu-2025", "psu-kukar-2025"} <= set(shipped)
    for t in shipped.values():
        assert t.source.parent == tl.TIMELINES_DIR
        assert t.kind in tl.KINDS
        assert t.stages
        assert all(s.reminder.strip() for s in t.stages)


def test_pemilu_2024_dates(shipped: dict[str, tl.Timeline]) -> None:
    p = shipped["pemilu-2024"]
    assert p.enabled and p.kind == "pemilu" and p.regions == ("*",)
    assert (p.stage("kampanye").start, p.stage("kampanye").end) == (date(2023, 11, 28), date(2024, 2, 10))
    assert (p.stage("masa-tenang").start, p.stage("masa-tenang").end) == (
        date(2024, 2, 11),
        date(2024, 2, 13),
    )
    voting = p.stage("pemungutan-suara")
    assert voting.start == voting.end == date(2024, 2, 14)
    assert p.stage("rekapitulasi").end == date(2024, 3, 20)


def test_pilkada_2024_dates(shipped: dict[str, tl.Timeline]) -> None:
    p = shipped["pilkada-2024"]
    assert p.enabled and p.kind == "pilkada"
    assert (p.stage("pendaftaran-calon").start, p.stage("pendaftaran-calon").end) == (
        date(2024, 8, 27),
        date(2024, 8, 29),
    )
    assert p.stage("penetapan-calon").start == date(2024, 9, 22)
    assert (p.stage("kampanye").start, p.stage("kampanye").end) == (date(2024, 9, 25), date(2024, 11, 23))
    assert (p.stage("masa-tenang").start, p.stage("masa-tenang").end) == (
        date(2024, 11, 24),
        date(2024, 11, 26),
    )
    assert p.stage("pemungutan-suara").start == p.stage("pemungutan-suara").end == date(2024, 11, 27)


def test_psu_and_template(shipped: dict[str, tl.Timeline]) -> None:
    mahulu = shipped["psu-mahulu-2025"]
    assert mahulu.kind == "psu" and mahulu.regions == ("64.11",)
    assert mahulu.stage("pemungutan-suara-ulang").start == date(2025, 5, 24)
    assert mahulu.timezones() == (WITA,)
    assert shipped["psu-kukar-2025"].stage("pemungutan-suara-ulang").start == date(2025, 4, 19)
    template = shipped["pemilu-2029"]
    assert template.enabled is False
    assert "TEMPLATE" in template.name


def test_covers(shipped: dict[str, tl.Timeline]) -> None:
    mahulu = shipped["psu-mahulu-2025"]
    assert mahulu.covers("64.11")
    assert not mahulu.covers("64.02")
    assert not mahulu.covers("64")  # a province subscriber is not inside one kabupaten
    assert not mahulu.covers("garbage")
    pemilu = shipped["pemilu-2024"]
    assert pemilu.covers("91") and pemilu.covers("32.01") and pemilu.covers("64.11")
    assert pemilu.timezones() == (WIB, WITA, WIT)
    province_wide = dataclasses.replace(mahulu, regions=("64",))
    assert province_wide.covers("64.11") and province_wide.covers("64") and not province_wide.covers("65.04")


# ------------------------------------------------------------------------------------ occurrences


def test_occurrences_fire_at_0700_local_in_each_zone(shipped: dict[str, tl.Timeline]) -> None:
    p = shipped["pemilu-2024"]
    expected_utc = {
        WIB: datetime(2024, 2, 14, 0, 0, tzinfo=UTC),
        WITA: datetime(2024, 2, 13, 23, 0, tzinfo=UTC),
        WIT: datetime(2024, 2, 13, 22, 0, tzinfo=UTC),
    }
    for tz, utc in expected_utc.items():
        occ = [o for o in tl.reminder_occurrences(p, tz) if o.stage_id == "pemungutan-suara"]
        assert sorted(o.days_before for o in occ) == [0, 1, 7]
        day0 = next(o for o in occ if o.days_before == 0)
        assert day0.fire_at_local == datetime(2024, 2, 14, 7, 0, tzinfo=ZoneInfo(tz))
        assert day0.fire_at_local.tzinfo == ZoneInfo(tz)
        assert day0.fire_at_utc == utc
        assert day0.fire_at_utc.utcoffset().total_seconds() == 0
        assert day0.tz == tz and day0.timeline_id == "pemilu-2024"
        day7 = next(o for o in occ if o.days_before == 7)
        assert day7.fire_at_local.date() == date(2024, 2, 7)


def test_occurrences_sorted_with_unique_stable_keys(shipped: dict[str, tl.Timeline]) -> None:
    p = shipped["pilkada-2024"]
    all_keys: list[str] = []
    for tz in (WIB, WITA, WIT):
        occ = tl.reminder_occurrences(p, tz)
        assert occ == sorted(occ, key=lambda o: o.fire_at_utc)
        all_keys += [o.key for o in occ]
        assert [o.key for o in tl.reminder_occurrences(p, tz)] == [o.key for o in occ]  # stable
    assert len(all_keys) == len(set(all_keys))
    assert "pilkada-2024:pemungutan-suara:d1-0700@Asia/Makassar" in all_keys


def test_stage_override_offsets_are_used(shipped: dict[str, tl.Timeline]) -> None:
    p = shipped["pilkada-2024"]
    assert p.stage("rekapitulasi").offsets == (tl.ReminderOffset(0, time(18, 0)),)
    assert p.stage("pemutakhiran-data-pemilih").offsets == ()
    assert not [o for o in tl.reminder_occurrences(p, WIB) if o.stage_id == "pemutakhiran-data-pemilih"]
    rekap = [o for o in tl.reminder_occurrences(p, WITA) if o.stage_id == "rekapitulasi"]
    assert [o.fire_at_utc for o in rekap] == [datetime(2024, 11, 27, 10, 0, tzinfo=UTC)]


def test_occurrences_reject_unknown_zone(shipped: dict[str, tl.Timeline]) -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        tl.reminder_occurrences(shipped["pemilu-2024"], "Mars/Olympus")


def test_reminder_message(shipped: dict[str, tl.Timeline]) -> None:
    p = shipped["pemilu-2024"]
    msg = tl.reminder_message(p, p.stage("pemungutan-suara"), 1)
    assert msg.startswith("🗓️ Pemilu 2024\nBesok: Hari pemungutan suara (14 Februari 2024).")
    assert p.stage("pemungutan-suara").reminder in msg
    msg = tl.reminder_message(p, p.stage("kampanye"), 7)
    assert "Dimulai 7 hari lagi: Masa kampanye (28 November 2023 s.d. 10 Februari 2024)" in msg


# ------------------------------------------------------------------------------------ current / next


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def pair(result: tuple[tl.Timeline, tl.Stage] | None) -> tuple[str, str] | None:
    return (result[0].id, result[1].id) if result else None


def test_current_and_next_uses_region_time_zone(shipped: dict[str, tl.Timeline]) -> None:
    timelines = list(shipped.values())
    # 13 Feb 2024 23:30 WIB = 14 Feb 00:30 WITA: Samarinda is voting, Bogor is still in masa tenang.
    now = at("2024-02-13T16:30:00+00:00")
    cur, nxt = tl.current_and_next(timelines, "64.72", now)
    assert pair(cur) == ("pemilu-2024", "pemungutan-suara")
    assert pair(nxt) == ("pemilu-2024", "rekapitulasi")
    cur, nxt = tl.current_and_next(timelines, "32.01", now)
    assert pair(cur) == ("pemilu-2024", "masa-tenang")
    assert pair(nxt) == ("pemilu-2024", "pemungutan-suara")
    # Jayapura (WIT) is already past midnight an hour earlier.
    cur, _ = tl.current_and_next(timelines, "91", at("2024-02-13T15:30:00+00:00"))
    assert pair(cur) == ("pemilu-2024", "pemungutan-suara")


def test_current_and_next_psu_only_in_its_kabupaten(shipped: dict[str, tl.Timeline]) -> None:
    timelines = list(shipped.values())
    now = at("2025-05-20T02:00:00+00:00")
    cur, nxt = tl.current_and_next(timelines, "64.11", now)
    assert pair(cur) == ("psu-mahulu-2025", "persiapan-psu")
    assert pair(nxt) == ("psu-mahulu-2025", "pemungutan-suara-ulang")
    assert tl.current_and_next(timelines, "64.72", now) == (None, None)


def test_current_and_next_skips_disabled(shipped: dict[str, tl.Timeline]) -> None:
    template = shipped["pemilu-2029"]
    now = at("2028-12-01T00:00:00+00:00")
    assert tl.current_and_next([template], "64", now) == (None, None)
    enabled = dataclasses.replace(template, enabled=True)
    cur, nxt = tl.current_and_next([enabled], "64", now)
    assert pair(cur) == ("pemilu-2029", "kampanye")
    assert pair(nxt) == ("pemilu-2029", "masa-tenang")


def test_current_and_next_requires_aware_now(shipped: dict[str, tl.Timeline]) -> None:
    with pytest.raises(ValueError):
        tl.current_and_next(list(shipped.values()), "64", datetime(2024, 2, 14, 7, 0))  # noqa: DTZ001 (naive on purpose)


# ------------------------------------------------------------------------------------ validation

GOOD = """\
id = "uji-2030"
name = "Uji 2030"
kind = "pilkada"
regions = [
    "64",
    "65.04",
]
reminders = [
    { days_before = 3, at = "07:00" },
    { days_before = 0, at = "18:30" },
]

[[stage]]
id = "kampanye"
name = "Masa kampanye"
start = 2030-09-25
end = 2030-11-23
reminder = "Jangan ikut kampanye."

[[stage]]
id = "pemungutan-suara"
name = "Pemungutan suara"
start = "2030-11-27"
reminders = [{ days_before = 1, at = "06:00" }]
reminder = \"\"\"
Gunakan hak pilih.
\"\"\"
"""


def write(tmp_path: Path, text: str, name: str = "uji.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_good_file_parses(tmp_path: Path) -> None:
    t = load_timeline(write(tmp_path, GOOD))
    assert t.id == "uji-2030" and t.enabled and t.regions == ("64", "65.04")
    assert [s.id for s in t.stages] == ["kampanye", "pemungutan-suara"]
    assert t.stages[0].offsets == (tl.ReminderOffset(3, time(7, 0)), tl.ReminderOffset(0, time(18, 30)))
    assert t.stages[1].offsets == (tl.ReminderOffset(1, time(6, 0)),)
    assert t.stages[1].start == t.stages[1].end == date(2030, 11, 27)
    assert t.stages[1].reminder == "Gunakan hak pilih."
    assert t.timezones() == (WITA,)


def expect_error(tmp_path: Path, text: str, line_needle: str, message: str, occurrence: int = 1) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TimelineError) as info:
        load_timeline(path)
    line = line_of(text, line_needle, occurrence)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value)
    assert info.value.path == path and info.value.line == line


def test_unparsable_date(tmp_path: Path) -> None:
    text = GOOD.replace('start = "2030-11-27"', 'start = "2030-02-30"')
    expect_error(tmp_path, text, '"2030-02-30"', "is not a date")


def test_end_before_start(tmp_path: Path) -> None:
    text = GOOD.replace("end = 2030-11-23", "end = 2030-09-01")
    expect_error(tmp_path, text, "end = 2030-09-01", "is before start")


def test_stages_out_of_order(tmp_path: Path) -> None:
    text = GOOD.replace('start = "2030-11-27"', 'start = "2030-09-01"')
    expect_error(tmp_path, text, 'start = "2030-09-01"', "list stages in order of start date")


def test_unknown_region_in_multiline_list(tmp_path: Path) -> None:
    text = GOOD.replace('"65.04",', '"65.99",')
    expect_error(tmp_path, text, '"65.99"', "unknown region '65.99'")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = GOOD.replace('kind = "pilkada"\n', 'kind = "pilkada"\ncolour = "red"\n')
    expect_error(tmp_path, text, "colour", "unknown key 'colour'")


def test_unknown_stage_key(tmp_path: Path) -> None:
    text = GOOD.replace('reminder = "Jangan ikut kampanye."', 'remindr = "Jangan ikut kampanye."')
    expect_error(tmp_path, text, "remindr", "unknown key 'remindr'")


def test_missing_reminder_points_at_stage_header(tmp_path: Path) -> None:
    text = GOOD.replace('reminder = "Jangan ikut kampanye."\n', "")
    expect_error(tmp_path, text, "[[stage]]", "missing required key 'reminder'", occurrence=1)


def test_empty_reminder(tmp_path: Path) -> None:
    text = GOOD.replace('reminder = """\nGunakan hak pilih.\n"""', 'reminder = "   "')
    expect_error(tmp_path, text, 'reminder = "   "', "'reminder' must be a non-empty text")


def test_bad_reminder_time_in_file_default(tmp_path: Path) -> None:
    text = GOOD.replace('at = "18:30"', 'at = "6pm"')
    expect_error(tmp_path, text, '"6pm"', "'at' must be a local time")


def test_negative_days_before_in_stage_override(tmp_path: Path) -> None:
    text = GOOD.replace("days_before = 1, at", "days_before = -2, at")
    expect_error(tmp_path, text, "days_before = -2", "'days_before' must be a whole number")


def test_duplicate_stage_id(tmp_path: Path) -> None:
    text = GOOD.replace('id = "pemungutan-suara"', 'id = "kampanye"')
    expect_error(tmp_path, text, 'id = "kampanye"', "used twice", occurrence=2)


def test_bad_kind_and_timezone(tmp_path: Path) -> None:
    expect_error(tmp_path, GOOD.replace('"pilkada"', '"referendum"'), "referendum", "kind 'referendum'")
    text = GOOD.replace('kind = "pilkada"\n', 'kind = "pilkada"\ntimezone = "Asia/Jakarta"\n')
    expect_error(tmp_path, text, "timezone", "is not supported")


def test_invalid_toml_reports_parser_line(tmp_path: Path) -> None:
    text = GOOD.replace('name = "Masa kampanye"', 'name = "Masa kampanye')
    expect_error(tmp_path, text, 'name = "Masa kampanye', "invalid TOML")


def test_no_stages(tmp_path: Path) -> None:
    text = GOOD.split("[[stage]]")[0]
    path = write(tmp_path, text)
    with pytest.raises(TimelineError, match="no stages") as info:
        load_timeline(path)
    assert str(path) in str(info.value)


def test_duplicate_timeline_ids_in_directory(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.toml")
    second = write(tmp_path, GOOD, "b.toml")
    with pytest.raises(TimelineError, match="already used") as info:
        load_timelines(tmp_path)
    assert str(info.value).startswith(f"{second}:{line_of(GOOD, 'id = ')}: ")


def test_timeline_error_is_value_error() -> None:
    assert issubclass(TimelineError, ValueError)


def test_native_toml_time_and_datetime_rejected(tmp_path: Path) -> None:
    t = load_timeline(write(tmp_path, GOOD.replace('at = "06:00"', "at = 06:00:00")))
    assert t.stages[1].offsets == (tl.ReminderOffset(1, time(6, 0)),)
    text = GOOD.replace("start = 2030-09-25", "start = 2030-09-25T10:00:00")
    expect_error(tmp_path, text, "start = 2030-09-25T10", "'2030-09-25T10:00:00' is not a date")


def test_reminder_too_long(tmp_path: Path) -> None:
    long_text = "x" * (tl.MAX_REMINDER_CHARS + 1)
    text = GOOD.replace('reminder = "Jangan ikut kampanye."', f'reminder = "{long_text}"')
    expect_error(tmp_path, text, long_text, f"the limit is {tl.MAX_REMINDER_CHARS}")
