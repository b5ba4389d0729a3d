"""Free-text region queries for the lookup oracle test and ``benchmarks.regions``: every region name, short
name and alias in several spellings, deterministic typos of each, kind prefixes, codes, and garbage."""

from __future__ import annotations

import random
import string

from bot.regions import _KIND_PREFIXES, _data

_KINDS = frozenset(_KIND_PREFIXES) | {"administrasi"}


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word + rng.choice(string.ascii_lowercase)
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(5)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    if kind == 3:
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]
    return word[: max(3, len(word) - rng.randint(1, 3))]  # cut short


def exact_queries() -> list[str]:
    """Names, short names, name keys and aliases as people type them (these resolve without fuzzy search)."""
    data = _data()
    out: list[str] = []
    for region in data.regions.values():
        out += [region.name, region.name.upper(), region.short, region.short.lower(), region.code]
    out += list(data.choice_keys)
    return out


def typo_queries(seed: int = 5) -> list[str]:
    """One or two typos in every key, with and without a kind prefix: these go through the fuzzy search."""
    rng = random.Random(seed)
    out: list[str] = []
    for key in _data().choice_keys:
        words = key.split()
        for _ in range(2):
            w = list(words)
            i = rng.randrange(len(w))
            w[i] = _typo(w[i], rng)
            if rng.random() < 0.3 and len(w) > 1:
                j = rng.randrange(len(w))
                w[j] = _typo(w[j], rng)
            text = " ".join(w)
            if words[0] not in _KINDS:  # a kind word in front of a bare name, as people type it
                text = rng.choice(["", "", "", "kab ", "kota ", "kabupaten ", "prov "]) + text
            out.append(text)
    return out


def odd_queries(seed: int = 9) -> list[str]:
    """Codes, garbage, fragments, repeated words, punctuation and diacritics."""
    rng = random.Random(seed)
    out = [
        "",
        " ",
        "x",
        "xq",
        "kota",
        "kab",
        "kab.",
        "64",
        "6402",
        "64.02",
        "64.99",
        "99",
        "64 02",
        "640",
        "1234",
        "zzzzqqqq",
        "qwerty",
        "bau bau bau",
        "toli-toli",
        "tojo una-una",
        "Bau-Bau",
        "Kab. Kutai Kartanegara",
        "samarinda kota",
        "kota administrasi jakarta barat",
        "kabupaten administrasi kepulauan seribu",
        "Tanjungpinang",
        "tanjung pinang",
        "Sulawési Selatan",
        "PAPUA!!!",
        "kalimantan",
        "sumatera",
        "nusa",
        "jawa",
        "utara",
        "selatan",
        "barat daya",
        "kep",
        "kepulauan riau riau",
        "kutai kutai",
        "aceh aceh",
        "saya tinggal di samarinda",
        "di balikpapan kak",
        "kota samarinda kalimantan timur",
        "12345 samarinda",
    ]
    letters = string.ascii_lowercase + "    "
    for _ in range(150):
        out.append("".join(rng.choice(letters) for _ in range(rng.randint(1, 30))).strip())
    return out


def all_queries() -> list[str]:
    return exact_queries() + typo_queries() + odd_queries()
