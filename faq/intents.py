"""Intents: messages that are not a knowledge-base question (greetings, "saya mau lapor", out of scope).

The data is ``faq/intents.toml``; every phrasing, filler, topical and trigger word is normalised with the
matcher's :class:`~faq.normalize.Normalizer`, so slang and stemming apply exactly as for FAQ questions.
A message is reduced to its *words*: normalised words minus ``[filler]`` words and bare numbers.

Kinds (checked in this order by :func:`faq.decision.resolve`):

* ``courtesy`` (greetings, thanks): every word of the message is a courtesy word (or the message is
  only courtesy emoji). "halo", "pagi min", "terima kasih banyak", "🙏". Thanks win over greetings
  ("halo makasih" = thanks).
* ``phrasing`` (lapor, tahapan, which candidate is good): every word of the message that is not a
  courtesy word must belong to the intent's vocabulary (the words of its phrasings) **and** the message
  must contain all the words of at least one phrasing (``extra_words`` relaxes the first rule: that many
  other words are allowed, none of them ``[topical]`` or used by the knowledge base; "kapan pilkada kukar"
  is the tahapan intent, "kapan masa tenang pilkada" a knowledge-base question). So "selamat pagi, saya
  mau lapor" is the lapor intent, while "boleh gak lapor atasan yang kampanye" (extra words "boleh",
  "atasan", "kampanye") and "halo, boleh gak like postingan paslon?" are left to the knowledge base.
* ``trigger`` (out of scope: CPNS registration, salaries, English): the message contains ``min_triggers``
  different trigger phrases and no ``[topical]`` word (so "pns boleh terima gaji dari partai?" stays a
  knowledge-base question). With ``surface = true`` (English) both are checked on the words as typed,
  because slang maps English words to Indonesian ones ("campaign" -> "kampanye", a topical word) and
  an Indonesian "kampanye" is no English trigger.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from faq.kb import KnowledgeBase
from faq.normalize import Normalizer

INTENTS_PATH = Path(__file__).with_name("intents.toml")
_SURFACE_TOKEN = re.compile(r"\S+")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_EDGE_TOKENS = 6  # a greeting or thanks around a question is at most this many typed words
AFTER_QUESTION = ("thanks",)  # courtesy intents whose phrasings are stripped after a question too
KINDS = ("courtesy", "phrasing", "trigger")
ACTIONS = ("", "lapor", "tahapan")
Kind = Literal["courtesy", "phrasing", "trigger"]


class IntentError(ValueError):
    """The intents data is invalid."""


@dataclass(frozen=True)
class Intent:
    id: str
    kind: Kind
    text: str  # key in bot/texts.py
    phrasings: tuple[str, ...]
    action: str = ""  # "" | "lapor" | "tahapan": a button that starts that feature
    entries: tuple[str, ...] = ()  # FAQ entries offered as buttons
    with_entries: tuple[str, ...] = ()  # FAQ answers that also get this intent's action button
    triggers: tuple[str, ...] = ()
    min_triggers: int = 1  # different trigger phrases a message needs (trigger kind)
    extra_words: int = 0  # words outside the vocabulary a message may have (phrasing kind; never topical ones)
    emoji: tuple[str, ...] = ()
    surface: bool = False  # trigger kind: triggers and [topical] are checked on the words as typed (no slang)


@dataclass(frozen=True)
class _Compiled:
    intent: Intent
    vocab: frozenset[str]
    cores: tuple[frozenset[str], ...]
    triggers: tuple[tuple[str, ...], ...]
    surface_triggers: tuple[tuple[str, ...], ...]


def _strs(raw: dict, key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise IntentError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def load_intents_data(path: Path | None = None) -> tuple[list[Intent], tuple[str, ...], tuple[str, ...]]:
    """(intents, filler words, topical words) as written in the TOML, validated but not normalised."""
    with (path or INTENTS_PATH).open("rb") as fh:
        raw = tomllib.load(fh)
    intents: list[Intent] = []
    seen: set[str] = set()
    for i, item in enumerate(raw.get("intent", []), start=1):
        where = f"intent #{i}"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise IntentError(f"{where}: needs a string 'id'")
        where = f"intent '{item['id']}'"
        unknown = set(item) - {"id", "kind", "text", "phrasings", "action", "entries", "with_entries", "triggers",
                               "min_triggers", "extra_words", "emoji", "surface"}
        if unknown:
            raise IntentError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        kind, action = item.get("kind"), item.get("action", "")
        if kind not in KINDS:
            raise IntentError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if action not in ACTIONS:
            raise IntentError(f"{where}: action must be one of {', '.join(a for a in ACTIONS if a)}")
        if not isinstance(item.get("text"), str) or not item["text"]:
            raise IntentError(f"{where}: needs a 'text' key of bot/texts.py")
        if item["id"] in seen:
            raise IntentError(f"{where}: duplicate id")
        seen.add(item["id"])
        intent = Intent(
            id=item["id"],
            kind=kind,
            text=item["text"],
            phrasings=_strs(item, "phrasings", where),
            action=action,
            entries=_strs(item, "entries", where),
            with_entries=_strs(item, "with_entries", where),
            triggers=_strs(item, "triggers", where),
            emoji=_strs(item, "emoji", where),
            min_triggers=item.get("min_triggers", 1),
            extra_words=item.get("extra_words", 0),
            surface=item.get("surface", False),
        )
        if not isinstance(intent.min_triggers, int) or intent.min_triggers < 1:
            raise IntentError(f"{where}: min_triggers must be a positive integer")
        if not isinstance(intent.extra_words, int) or intent.extra_words < 0:
            raise IntentError(f"{where}: extra_words must be a non-negative integer")
        if not intent.phrasings:
            raise IntentError(f"{where}: needs at least one phrasing")
        if not isinstance(intent.surface, bool) or (intent.surface and kind != "trigger"):
            raise IntentError(f"{where}: surface must be true or false, and only for kind = \"trigger\"")
        if (kind == "trigger") != bool(intent.triggers):
            raise IntentError(f"{where}: 'triggers' are required for, and only for, kind = \"trigger\"")
        intents.append(intent)
    filler = _strs(raw.get("filler", {}), "words", "[filler]")
    topical = _strs(raw.get("topical", {}), "words", "[topical]")
    return intents, filler, topical


class IntentSet:
    """Compiled intents over one normaliser (use the matcher's, so KB stems are known)."""

    def __init__(self, intents: Iterable[Intent], filler: Iterable[str], topical: Iterable[str],
                 normalizer: Normalizer, kb_words: Iterable[str] = ()) -> None:
        self.normalizer = normalizer
        self.kb_words = frozenset(kb_words)  # words the knowledge base uses: never an intent's extra word
        self.filler = frozenset(w for f in filler for w in normalizer.words(f))
        self.topical = frozenset(w for f in topical for w in normalizer.words(f))
        self.surface_topical = frozenset(w for f in topical for w in surface_words(f))
        self.intents: list[Intent] = list(intents)
        self._compiled: list[_Compiled] = []
        for intent in self.intents:
            cores = tuple(frozenset(self.words(p)) for p in intent.phrasings)
            if any(not c for c in cores) and intent.kind != "trigger":
                empty = [p for p, c in zip(intent.phrasings, cores, strict=True) if not c]
                raise IntentError(f"intent '{intent.id}': phrasing(s) made only of filler words: {empty}")
            triggers = tuple(tuple(normalizer.words(tr)) for tr in intent.triggers)
            surface = tuple(tuple(surface_words(tr)) for tr in intent.triggers)
            self._compiled.append(_Compiled(intent, frozenset().union(*cores), cores, triggers, surface))
        # each kind's intents in file order, the courtesy emoji longest first, what an extra word may not be
        self._courtesy = [c for c in self._compiled if c.intent.kind == "courtesy"]
        self._courtesy_emoji = [(c, tuple(sorted(c.intent.emoji, key=len, reverse=True)))
                                for c in self._courtesy if c.intent.emoji]
        self._phrasing = [c for c in self._compiled if c.intent.kind == "phrasing"]
        self._triggered = [c for c in self._compiled if c.intent.kind == "trigger"]
        self._not_extra = self.topical | self.kb_words
        self.courtesy_vocab = frozenset().union(*(c.vocab for c in self._compiled if c.intent.kind == "courtesy"))
        # courtesy phrasings as word sequences: any of them may stand before a question, thanks after it
        # ("... kampanye malam" keeps its "malam")
        def seqs(ids: Iterable[str] | None) -> frozenset[tuple[str, ...]]:
            return frozenset(
                tuple(self.words(p)) for c in self._compiled if c.intent.kind == "courtesy"
                and (ids is None or c.intent.id in ids) for p in c.intent.phrasings
            ) - {()}
        self._before_seqs = seqs(None)
        self._after_seqs = seqs(AFTER_QUESTION)
        # their words: a typed word with a normalised word outside these never belongs to a greeting or thanks
        self._before_vocab = frozenset(w for seq in self._before_seqs for w in seq)
        self._after_vocab = frozenset(w for seq in self._after_seqs for w in seq)

    def get(self, ident: str) -> Intent | None:
        return next((i for i in self.intents if i.id == ident), None)

    def words(self, text: str) -> list[str]:
        """Normalised words without filler words and bare numbers."""
        return [w for w in self.normalizer.words(text) if w not in self.filler and not w.isdigit()]

    def _emoji_only(self, text: str, emoji: tuple[str, ...]) -> bool:
        """Whether ``text`` is only ``emoji`` (given longest first, as ``_courtesy_emoji`` holds them) and no
        letter or digit."""
        rest = text
        found = False
        for e in emoji:
            if e in rest:
                found = True
                rest = rest.replace(e, " ")
        return found and not any(ch.isalnum() for ch in rest)

    def before_faq(self, text: str) -> Intent | None:
        """A courtesy or phrasing intent the whole message is, else None."""
        words = self.words(text)
        qset = frozenset(words)
        for c, emoji in self._courtesy_emoji:
            if self._emoji_only(text, emoji):
                return c.intent
        if qset and qset <= self.courtesy_vocab:
            for c in self._courtesy:  # file order: thanks before greetings
                if qset & c.vocab:
                    return c.intent
        rest = qset - self.courtesy_vocab
        if not rest:
            return None
        for c in self._phrasing:
            if not any(core <= qset for core in c.cores):
                continue
            extra = rest - c.vocab
            if len(extra) <= c.intent.extra_words and extra.isdisjoint(self._not_extra):
                return c.intent
        return None

    @staticmethod
    def _is_courtesy(words: list[str], seqs: frozenset[tuple[str, ...]]) -> bool:
        """Whether ``words`` (filler removed) is one or more of ``seqs`` in a row ("pagi", "selamat pagi mau
        tanya"); a lone word of a phrasing ("boleh" of "boleh tanya") is not."""
        n = len(words)
        ok = [True] + [False] * n  # ok[i]: words[:i] splits into courtesy phrasings
        for i in range(1, n + 1):
            ok[i] = any(ok[j] and tuple(words[j:i]) in seqs for j in range(max(0, i - _EDGE_TOKENS), i))
        return n > 0 and ok[n]

    def _question_left(self, words: list[str]) -> bool:
        return bool(words) and not self._is_courtesy(words, self._before_seqs)

    def strip_courtesy(self, text: str) -> str:
        """``text`` without a greeting or thanks in front of or after the question, for the knowledge base:
        "pagi min, pns boleh jadi timses?" -> "pns boleh jadi timses?". A greeting word can be a knowledge-base
        word ("pagi" in "senam pagi"), and one unrelated rare word pulls the ranking away from the question.
        Only whole courtesy phrasings at the edges go (after the question: thanks only), and only when more
        than courtesy remains."""
        spans = [m.span() for m in _SURFACE_TOKEN.finditer(text)]
        # each typed word's normalised words, taken when first needed (courtesy phrasings hold no multi-word slang)
        per_token: list[list[str] | None] = [None] * len(spans)

        def words_at(i: int) -> list[str]:
            ws = per_token[i]
            if ws is None:
                a, b = spans[i]
                ws = per_token[i] = self.words(text[a:b])
            return ws

        def joined(lo: int, hi: int) -> list[str]:
            return [w for i in range(lo, hi) for w in words_at(i)]

        def edge(indices: range, vocab: frozenset[str]) -> int:
            """How many typed words at ``indices``, in that order, have only words of ``vocab``."""
            n = 0
            for i in indices:
                if not vocab.issuperset(words_at(i)):
                    break
                n += 1
            return n

        # A greeting of k typed words needs all of them made of courtesy words: only k up to ``front`` can be
        # one (longer ones hold a word no courtesy phrasing has), and likewise thanks of ``end - k`` words.
        start, end = 0, len(spans)
        front = edge(range(min(len(spans) - 1, _EDGE_TOKENS)), self._before_vocab)
        for k in range(front, 0, -1):  # longest greeting first
            if self._is_courtesy(joined(0, k), self._before_seqs) and self._question_left(joined(k, end)):
                start = k
                break
        lowest = max(start + 1, end - _EDGE_TOKENS)
        back = edge(range(end - 1, lowest - 1, -1), self._after_vocab)
        for k in range(max(lowest, end - back), end):  # longest thanks first
            if self._is_courtesy(joined(k, end), self._after_seqs) and self._question_left(joined(start, k)):
                end = k
                break
        if (start, end) == (0, len(spans)):
            return text
        return text[spans[start][0] : spans[end - 1][1]]

    def out_of_scope(self, text: str) -> Intent | None:
        """A trigger intent (out of scope) for the message, else None."""
        normalised = _Phrases(self.normalizer.words(text))
        typed: _Phrases | None = None  # the words as typed, split only when an intent needs them
        blocked = not self.topical.isdisjoint(normalised.words)
        for c in self._triggered:
            if c.intent.surface:
                # English: slang maps "campaign" to "kampanye", so look at the words as typed
                if typed is None:
                    typed = _Phrases(surface_words(text))
                words, triggers = typed, c.surface_triggers
                if not self.surface_topical.isdisjoint(words.words):
                    continue
            elif blocked:
                continue
            else:
                words, triggers = normalised, c.triggers
            found = sum(1 for trig in triggers if trig and words.has(trig))
            if found >= c.intent.min_triggers:
                return c.intent
        return None

    def action_for_entry(self, entry_id: str) -> Intent | None:
        """The intent whose action button goes with an answer from this FAQ entry (e.g. cara-lapor -> lapor)."""
        return next((i for i in self.intents if entry_id in i.with_entries), None)


class _Phrases:
    """The word sequences of a message, to look trigger phrases up in: per phrase length the set of its runs of
    that many words, built when a phrase of that length is first looked up."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self._runs: dict[int, set[tuple[str, ...]]] = {}

    def has(self, phrase: tuple[str, ...]) -> bool:
        """Whether ``phrase`` (not empty) occurs in the words, as consecutive words."""
        n = len(phrase)
        runs = self._runs.get(n)
        if runs is None:
            w = self.words
            runs = self._runs[n] = {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}
        return phrase in runs


def surface_words(text: str) -> list[str]:
    """The words as typed: lower case, punctuation removed, no slang mapping or stemming."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).split()


def kb_words(kb: KnowledgeBase, normalizer: Normalizer) -> frozenset[str]:
    """Every normalised word of the entries' phrasings, titles and keywords."""
    return frozenset(
        w for e in kb for text in (*e.questions, e.title, *e.keywords) for w in normalizer.words(text)
    )


def load_intents(normalizer: Normalizer, path: Path | None = None, kb: KnowledgeBase | None = None) -> IntentSet:
    intents, filler, topical = load_intents_data(path)
    return IntentSet(intents, filler, topical, normalizer, kb_words(kb, normalizer) if kb is not None else ())
