"""``Normalizer._clean`` as it was before the FAQ reply path was made cheaper (main at 609d62b), verbatim apart
from taking the normaliser as an argument: the oracle of ``tests/faq/test_normalize.py``."""

from __future__ import annotations

import re
import unicodedata

from faq.normalize import Normalizer

_REPEAT = re.compile(r"([a-z])\1{2,}")
_REDUP_HYPHEN = re.compile(r"\b([a-z]+)-\1\b")
_REDUP_TWO = re.compile(r"\b([a-z]{2,})2\b")
_PREFIX_HYPHEN = re.compile(r"\b(nge|ng|di|me|ber|ter|ke)-(?=[a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def clean(normalizer: Normalizer, text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _REDUP_HYPHEN.sub(r"\1", text)
    text = _REDUP_TWO.sub(r"\1", text)
    text = _PREFIX_HYPHEN.sub(r"\1", text)
    words = normalizer.slang.words
    text = " ".join(tok if tok in words else _REPEAT.sub(r"\1", tok) for tok in _NON_ALNUM.sub(" ", text).split())
    if normalizer._phrase_re is not None:
        text = normalizer._phrase_re.sub(lambda m: normalizer.slang.phrases[m.group(1)], text)
    return text
