"""Reference ORACLE for free-text region lookup: ``bot.regions.resolve`` as of ``de42a01``.

The per-query logic (code parsing, normalisation, kind prefixes, exact alias/name lookup, fuzzy ranking with
rapidfuzz ``WRatio`` over every name and alias key) is copied verbatim with its own constants, over the same
loaded data index (``bot.regions._data()``: regions, aliases, names, choice keys and codes). ``test_lookup_oracle``
compares the optimised lookup with it; ``benchmarks.regions`` times it as "before". Keep it unchanged unless the
lookup's results are meant to change, and then change both in the same commit.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process

from bot.regions import Region, _data

_CODE_RE = re.compile(r"^\s*(\d{2})(?:\s*[.\s]?\s*(\d{2}))?\s*$")
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
_FUZZY_SPREAD = 10.0


def _rank(code: str) -> tuple[int, str]:
    return (0 if "." not in code else 1, code)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def _normalize_code(code: str) -> str | None:
    m = _CODE_RE.match(code)
    if not m:
        return None
    return m.group(1) if m.group(2) is None else f"{m.group(1)}.{m.group(2)}"


def _split_kind(norm: str) -> tuple[str | None, str]:
    words = norm.split(" ")
    if len(words) > 1 and words[0] in _KIND_PREFIXES:
        kind = _KIND_PREFIXES[words[0]]
        rest = words[1:]
        if len(rest) > 1 and rest[0] == "administrasi":
            rest = rest[1:]
        return kind, " ".join(rest)
    if len(words) > 1 and words[-1] in _KIND_PREFIXES:
        return _KIND_PREFIXES[words[-1]], " ".join(words[:-1])
    return None, norm


def reference_resolve(text: str, limit: int = 5) -> list[Region]:
    if limit <= 0:
        return []
    return list(_resolve(text, limit))


def _resolve(text: str, limit: int) -> tuple[Region, ...]:
    data = _data()
    code = _normalize_code(text)
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
        found = [data.regions[c] for c in exact]
        if kind:
            found.sort(key=lambda r: r.kind != kind)
        return tuple(found[:limit])

    if len(core) < 3:
        return ()
    scorer = fuzz.ratio if len(core) <= 3 else fuzz.WRatio
    hits = process.extract(core, data.choice_keys, scorer=scorer, score_cutoff=_FUZZY_CUTOFF, limit=40)
    best: dict[str, float] = {}
    for key, score, idx in hits:
        if len(key) + 2 < len(core) and fuzz.ratio(core, key) < _FUZZY_CUTOFF:
            continue
        for c in data.choice_codes[idx]:
            region = data.regions[c]
            s = score + (5.0 if kind and region.kind == kind else 0.0)
            if s > best.get(c, -1.0):
                best[c] = s
    if not best:
        return ()
    top = max(best.values())
    ordered = sorted((c for c in best if best[c] >= top - _FUZZY_SPREAD), key=lambda c: (-best[c], _rank(c)))
    return tuple(data.regions[c] for c in ordered[:limit])
