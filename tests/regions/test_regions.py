"""bot.regions: Kemendagri regions, aliases, fuzzy resolution, time zones."""

from __future__ import annotations

import pytest

from bot import regions

WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"


def codes(text: str, limit: int = 5) -> list[str]:
    return [r.code for r in regions.resolve(text, limit)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Kukar", "64.02"),
        ("kukar", "64.02"),
        ("Kubar", "64.07"),
        ("Kutim", "64.08"),
        ("PPU", "64.09"),
        ("Mahulu", "64.11"),
        ("KTT", "65.04"),
        ("Kaltim", "64"),
        ("Kaltara", "65"),
        ("Kalsel", "63"),
        ("Jabar", "32"),
        ("DKI", "31"),
        ("Jakarta", "31"),
        ("Sulsel", "73"),
        ("Samarinda", "64.72"),
        ("kota samarinda", "64.72"),
        ("Kota Samarinda", "64.72"),
        ("samarinda kota", "64.72"),
        ("kab kukar", "64.02"),
        ("Kab. Kutai Kartanegara", "64.02"),
        ("kabupaten kutai kartanegara", "64.02"),
        ("provinsi kalimantan timur", "64"),
        ("Kalimantan Timur", "64"),
        ("samarnda", "64.72"),
        ("balikpapn", "64.71"),
        ("tarkan", "65.71"),
        ("tenggarong", "64.02"),
        ("64.02", "64.02"),
        ("6402", "64.02"),
        (" 64 ", "64"),
        ("65.04", "65.04"),
    ],
)
def test_resolve_best_match(text: str, expected: str) -> None:
    found = codes(text)
    assert found, f"nothing found for {text!r}"
    assert found[0] == expected


def test_resolve_exact_alias_returns_only_that_region() -> None:
    assert codes("Kukar") == ["64.02"]
    assert codes("Kaltim") == ["64"]


def test_resolve_ambiguous_name_lists_both_and_kind_prefix_orders() -> None:
    assert set(codes("bogor")) == {"32.01", "32.71"}
    assert codes("kota bogor")[0] == "32.71"
    assert codes("kab bogor")[0] == "32.01"


def test_resolve_partial_name_lists_all_candidates() -> None:
    assert set(codes("kutai")) == {"64.02", "64.07", "64.08"}


def test_resolve_rejects_noise_and_unknown_codes() -> None:
    assert regions.resolve("") == []
    assert regions.resolve("xq") == []
    assert regions.resolve("zzzzqqqq") == []
    assert regions.resolve("kota") == []
    assert regions.resolve("99") == []
    assert regions.resolve("64.99") == []
    assert regions.resolve("Kukar", limit=0) == []


def test_resolve_respects_limit() -> None:
    assert len(regions.resolve("kalimantan", limit=2)) == 2
    assert len(regions.resolve("kalimantan", limit=5)) == 5


def test_get_and_levels() -> None:
    kukar = regions.get("64.02")
    assert kukar is not None
    assert kukar.name == "Kabupaten Kutai Kartanegara"
    assert kukar.level == "kabkota"
    assert kukar.kind == "kabupaten"
    assert kukar.province_code == "64"
    assert kukar.tz == WITA
    assert regions.get("6402") == kukar
    kaltim = regions.get("64")
    assert kaltim is not None and kaltim.level == "provinsi" and kaltim.province_code == "64"
    assert regions.get("64.02.01") is None  # kecamatan are not covered
    assert regions.get("00") is None
    assert regions.get("abc") is None


def test_provinces_and_kabkota() -> None:
    provs = regions.provinces()
    assert len(provs) == 38
    assert [p.name for p in provs] == sorted(p.name for p in provs)
    assert {r.code for r in regions.kabkota("64")} == {
        "64.01", "64.02", "64.03", "64.07", "64.08", "64.09", "64.11", "64.71", "64.72", "64.74",
    }  # fmt: skip
    assert {r.code for r in regions.kabkota("65")} == {"65.01", "65.02", "65.03", "65.04", "65.71"}
    assert all(r.level == "kabkota" and r.province_code == "64" for r in regions.kabkota("64"))
    assert regions.kabkota("99") == []
    total = sum(len(regions.kabkota(p.code)) for p in provs)
    assert total == 514


def test_short_names() -> None:
    assert regions.get("64.72").short == "Samarinda"
    assert regions.get("64.02").short == "Kutai Kartanegara"
    assert regions.get("32.01").short == "Kab. Bogor"
    assert regions.get("32.71").short == "Kota Bogor"
    assert regions.get("31.74").short == "Jakarta Selatan"
    assert regions.get("17.71").short == "Kota Bengkulu"  # would clash with the province
    assert regions.get("31").short == "DKI Jakarta"
    shorts = [r.short for p in regions.provinces() for r in regions.kabkota(p.code)]
    assert len(shorts) == len(set(shorts)), "kab/kota display names must be unique"


@pytest.mark.parametrize(
    ("code", "tz"),
    [
        ("64", WITA),  # Kaltim
        ("64.02", WITA),
        ("65.04", WITA),  # Kaltara
        ("63", WITA),  # Kalsel
        ("61", WIB),  # Kalbar (WIB since Keppres 41/1987)
        ("62", WIB),  # Kalteng
        ("32", WIB),  # Jabar
        ("32.01", WIB),
        ("31", WIB),
        ("51", WITA),  # Bali
        ("73", WITA),  # Sulsel
        ("81", WIT),  # Maluku
        ("91", WIT),  # Papua
        ("96", WIT),  # Papua Barat Daya
    ],
)
def test_tz_of(code: str, tz: str) -> None:
    assert regions.tz_of(code) == tz
    assert regions.get(code).tz == tz


def test_every_region_has_one_of_three_zones() -> None:
    assert regions.timezones() == [WIB, WITA, WIT]
    for p in regions.provinces():
        assert p.tz in (WIB, WITA, WIT)
        assert all(k.tz == p.tz for k in regions.kabkota(p.code))
    assert regions.get("64").zone_label == "WITA"
    assert regions.get("91").zone_label == "WIT"


def test_tz_of_unknown_raises() -> None:
    with pytest.raises(KeyError):
        regions.tz_of("99")


def test_ancestors_and_is_within() -> None:
    assert regions.ancestors("64.02") == ["64.02", "64"]
    assert regions.ancestors("64") == ["64"]
    assert regions.ancestors("6402") == ["64.02", "64"]
    assert regions.is_within("64.02", "64")
    assert regions.is_within("64.02", "64.02")
    assert not regions.is_within("64", "64.02")
    assert not regions.is_within("65.04", "64")
    assert regions.is_within("65.04", "*")
    assert regions.is_within("65.04", "ID")
    assert not regions.is_within("bogus", "64")
    with pytest.raises(ValueError):
        regions.ancestors("not a code")


def test_data_file_with_bad_alias_is_rejected(tmp_path) -> None:
    text = regions.DATA_FILE.read_text(encoding="utf-8") + '\n"nowhere" = "64.99"\n'
    bad = tmp_path / "regions.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(RuntimeError, match="nowhere"):
        regions._Data(bad)


def test_data_file_missing_a_province_zone_is_rejected(tmp_path) -> None:
    text = regions.DATA_FILE.read_text(encoding="utf-8").replace('"64" = "WITA"', "")
    bad = tmp_path / "regions.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(RuntimeError, match="province 64"):
        regions._Data(bad)
