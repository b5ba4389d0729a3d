"""Normalisation of casual Indonesian questions.

All word lists live in ``faq/slang.toml`` (data, editable without code). The steps are:
lowercase and Unicode NFKC, collapse letters repeated 3+ times (``bolehhh`` -> ``boleh``),
reduplication (``bagi-bagi``/``bagi2`` -> ``bagi``), glue hyphenated prefixes (``nge-like`` -> ``ngelike``),
strip punctuation, replace multi-word phrases, map slang/abbreviations per token, then a light
lexicon-checked stemmer (``ngeshare``, ``dilaporin``, ``mengarahkan`` -> known roots).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SLANG_PATH = Path(__file__).with_name("slang.toml")

_REPEAT = re.compile(r"([a-z])\1{2,}")
_REDUP_HYPHEN = re.compile(r"\b([a-z]+)-\1\b")
_REDUP_TWO = re.compile(r"\b([a-z]{2,})2\b")
_PREFIX_HYPHEN = re.compile(r"\b(nge|ng|di|me|ber|ter|ke)-(?=[a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


MAX_CACHED_WORD = 40  # words() results cached per one-word text up to this length ...
WORD_CACHE_SIZE = 50_000  # ... this many (least recently used first out)
RECENT_TEXTS = 8  # longer texts: the last few only


@dataclass(frozen=True)
class SlangData:
    phrases: dict[str, str]
    words: dict[str, str]
    particles: tuple[str, ...]
    suffixes: tuple[str, ...]
    prefixes: tuple[tuple[str, str], ...]
    min_root: int
    protected: frozenset[str]
    lexicon: frozenset[str]
    stopwords: frozenset[str]
    weak: frozenset[str] = frozenset()
    weak_factor: float = 1.0


def load_slang(path: Path | None = None) -> SlangData:
    """Read the slang/stemming/stopword data file."""
    path = path or SLANG_PATH
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    stem = raw.get("stemming", {})
    return SlangData(
        phrases={k.lower(): v.lower() for k, v in raw.get("phrases", {}).items()},
        words={k.lower(): v.lower() for k, v in raw.get("words", {}).items()},
        particles=tuple(stem.get("particles", ())),
        suffixes=tuple(stem.get("suffixes", ())),
        prefixes=tuple((p, r) for p, r in stem.get("prefixes", ())),
        min_root=int(stem.get("min_root", 3)),
        protected=frozenset(stem.get("protected", ())),
        lexicon=frozenset(stem.get("lexicon", ())),
        stopwords=frozenset(raw.get("stopwords", {}).get("words", ())),
        weak=frozenset(raw.get("weak", {}).get("words", ())),
        weak_factor=float(raw.get("weak", {}).get("factor", 1.0)),
    )


class Normalizer:
    """Turns a question into normalised text / content tokens. Stateless apart from caches."""

    def __init__(self, slang: SlangData, extra_lexicon: Iterable[str] = ()) -> None:
        self.slang = slang
        replacement_words = {w for v in slang.words.values() for w in v.split()}
        replacement_words |= {w for v in slang.phrases.values() for w in v.split()}
        self.final_words = frozenset(replacement_words)
        self.lexicon = frozenset(slang.lexicon | replacement_words | set(extra_lexicon))
        phrases = sorted(slang.phrases, key=len, reverse=True)
        self._phrase_re = re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b") if phrases else None
        self._stem = lru_cache(maxsize=20000)(self._stem_uncached)
        # words() of one-word texts (the vocabulary: courtesy and intent checks normalise a question word by
        # word) and of the last few longer texts (one question is normalised by several steps of the decision)
        self._word_cache = lru_cache(maxsize=WORD_CACHE_SIZE)(self._words)
        self._recent = lru_cache(maxsize=RECENT_TEXTS)(self._words)

    def _clean(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).lower()
        # each substitution only where its pattern's literal character ("-", "2") occurs at all
        if "-" in text:
            text = _REDUP_HYPHEN.sub(r"\1", text)
        if "2" in text:
            text = _REDUP_TWO.sub(r"\1", text)
        if "-" in text:
            text = _PREFIX_HYPHEN.sub(r"\1", text)
        words = self.slang.words
        tokens = _NON_ALNUM.sub(" ", text).split()
        text = " ".join(tokens)
        if _REPEAT.search(text):  # a letter three times in a row (within one token: a space is no letter)
            text = " ".join(tok if tok in words else _REPEAT.sub(r"\1", tok) for tok in tokens)
        if self._phrase_re is not None:
            text = self._phrase_re.sub(lambda m: self.slang.phrases[m.group(1)], text)
        return text

    def raw_tokens(self, text: str) -> list[str]:
        """Tokens after slang mapping but before stemming (used to build the lexicon)."""
        out: list[str] = []
        for tok in self._clean(text).split():
            out.extend(self.slang.words.get(tok, tok).split())
        return out

    def _stem_uncached(self, token: str) -> str:
        s = self.slang
        if token in s.protected or token in self.final_words or len(token) < 5 or token.isdigit():
            return token
        bases = [token]
        for p in s.particles:
            if token.endswith(p) and len(token) - len(p) >= s.min_root:
                bases.append(token[: -len(p)])
        forms: list[str] = []
        for base in bases:
            forms.append(base)
            for suf in s.suffixes:
                if base.endswith(suf) and len(base) - len(suf) >= s.min_root:
                    forms.append(base[: -len(suf)])
        candidates: list[str] = []
        for form in forms:
            candidates.append(form)
            for pre, repl in s.prefixes:
                if form.startswith(pre) and len(form) - len(pre) + len(repl) >= s.min_root:
                    candidates.append(repl + form[len(pre) :])
        known = [c for c in candidates if c != token and c in self.lexicon]
        if not known:
            return token
        return min(known, key=len)

    def stem(self, token: str) -> str:
        return self._stem(token)

    def words(self, text: str) -> list[str]:
        """All normalised words, in order (stopwords included). A pure function of ``text``: cached."""
        one_word = len(text) <= MAX_CACHED_WORD and " " not in text
        return list((self._word_cache if one_word else self._recent)(text))

    def _words(self, text: str) -> tuple[str, ...]:
        out: list[str] = []
        for tok in self._clean(text).split():
            mapped = self.slang.words.get(tok)
            if mapped is not None:
                out.extend(mapped.split())
                continue
            root = self.stem(tok)
            out.extend(self.slang.words.get(root, root).split())
        return tuple(out)  # cached: immutable

    def normalize(self, text: str) -> str:
        return " ".join(self.words(text))

    def tokens(self, text: str) -> list[str]:
        """Content tokens: normalised words minus stopwords and bare numbers."""
        stop = self.slang.stopwords
        return [w for w in self.words(text) if w not in stop and not w.isdigit()]


@lru_cache(maxsize=1)
def default_normalizer() -> Normalizer:
    return Normalizer(load_slang())


def normalize(text: str) -> str:
    """Normalise ``text`` with the shipped slang data (no KB vocabulary in the lexicon)."""
    return default_normalizer().normalize(text)
