"""Intent checks as they were before the FAQ reply path was made cheaper (main at 609d62b), kept verbatim apart
from taking the :class:`~faq.intents.IntentSet` as an argument, as oracles for ``tests/faq/test_intents.py``."""

from __future__ import annotations

import re

from faq.intents import Intent, IntentSet, surface_words

_SURFACE_TOKEN = re.compile(r"\S+")
_EDGE_TOKENS = 6


def _is_courtesy(words: list[str], seqs: frozenset[tuple[str, ...]]) -> bool:
    n = len(words)
    ok = [True] + [False] * n  # ok[i]: words[:i] splits into courtesy phrasings
    for i in range(1, n + 1):
        ok[i] = any(ok[j] and tuple(words[j:i]) in seqs for j in range(max(0, i - _EDGE_TOKENS), i))
    return n > 0 and ok[n]


def strip_courtesy(intents: IntentSet, text: str) -> str:
    def question_left(words: list[str]) -> bool:
        return bool(words) and not _is_courtesy(words, intents._before_seqs)

    spans = [m.span() for m in _SURFACE_TOKEN.finditer(text)]
    per_token = [intents.words(text[a:b]) for a, b in spans]  # courtesy phrasings hold no multi-word slang

    def joined(lo: int, hi: int) -> list[str]:
        return [w for ws in per_token[lo:hi] for w in ws]

    start, end = 0, len(spans)
    for k in range(min(len(spans) - 1, _EDGE_TOKENS), 0, -1):  # longest greeting first
        if _is_courtesy(joined(0, k), intents._before_seqs) and question_left(joined(k, end)):
            start = k
            break
    for k in range(max(start + 1, end - _EDGE_TOKENS), end):  # longest thanks first
        if _is_courtesy(joined(k, end), intents._after_seqs) and question_left(joined(start, k)):
            end = k
            break
    if (start, end) == (0, len(spans)):
        return text
    return text[spans[start][0] : spans[end - 1][1]]


def out_of_scope(intents: IntentSet, text: str) -> Intent | None:
    normalised, typed = intents.normalizer.words(text), surface_words(text)
    blocked = bool(intents.topical & set(normalised))
    for c in intents._compiled:
        if c.intent.kind != "trigger":
            continue
        if c.intent.surface:
            # English: slang maps "campaign" to "kampanye", so look at the words as typed
            words, triggers = typed, c.surface_triggers
            if intents.surface_topical & set(words):
                continue
        elif blocked:
            continue
        else:
            words, triggers = normalised, c.triggers
        found = sum(
            1 for trig in triggers
            if trig and any(tuple(words[i : i + len(trig)]) == trig for i in range(len(words) - len(trig) + 1))
        )
        if found >= c.intent.min_triggers:
            return c.intent
    return None


def _emoji_only(text: str, emoji: tuple[str, ...]) -> bool:
    rest = text
    found = False
    for e in sorted(emoji, key=len, reverse=True):
        if e in rest:
            found = True
            rest = rest.replace(e, " ")
    return found and not any(ch.isalnum() for ch in rest)


def before_faq(intents: IntentSet, text: str) -> Intent | None:
    words = intents.words(text)
    qset = frozenset(words)
    courtesy = [c for c in intents._compiled if c.intent.kind == "courtesy"]
    for c in courtesy:
        if c.intent.emoji and _emoji_only(text, c.intent.emoji):
            return c.intent
    if qset and qset <= intents.courtesy_vocab:
        for c in courtesy:  # file order: thanks before greetings
            if qset & c.vocab:
                return c.intent
    rest = qset - intents.courtesy_vocab
    if not rest:
        return None
    for c in intents._compiled:
        if c.intent.kind != "phrasing" or not any(core <= qset for core in c.cores):
            continue
        extra = rest - c.vocab
        if len(extra) <= c.intent.extra_words and not extra & (intents.topical | intents.kb_words):
            return c.intent
    return None
