"""What the bot does with a free-text message: the bands, and which one a message falls in.

:func:`resolve` is used by the chat handler (``handlers/faq.py``), ``python -m faq ask`` and
``python -m faq eval``, so all three see the same decision. In order:

1. ``empty``: no word of two or more letters ("7", "-1", "<b>x</b>") -> the "type your question"
   prompt. Not logged as unanswered.
2. ``intent``: greetings/thanks (a short friendly reply), "saya mau lapor" (offers the /lapor flow),
   "kapan pilkada" (points to /tahapan), "calon mana yang bagus" and out-of-scope topics such as CPNS
   registration and salaries (scope message). Not logged. :mod:`faq.intents` says how a message must
   look to be one of them; a message with extra topic words ("boleh gak lapor atasan yang kampanye",
   "halo, boleh gak like postingan paslon?") is left to the knowledge base.
3. The knowledge base ranks the entries for the question without a greeting or thanks around it
   (:meth:`faq.intents.IntentSet.strip_courtesy`: "pagi min, pns boleh jadi timses?") and
   ``Matcher.decide`` places the ranking in a band, using the tuned thresholds of ``faq/thresholds.toml``
   (``answer``, ``margin``, ``suggest``):

   * ``clear``: best score >= ``answer``, lead over the runner-up >= ``margin``, at least two content
     words in the question, and a BOLEH / BOLEH DENGAN SYARAT label leads any TIDAK BOLEH candidate that
     scores >= ``suggest`` by >= 3 x ``margin``, and a BOLEH / BOLEH DENGAN SYARAT entry allows what the
     question adds (``faq/label-guards.toml``: no "dukung", "posko", "partai" … beyond the entry's own
     phrasings; "ajak golput" is not "ajak jangan golput"). Only this band shows a verdict label on the first line.
     Runners-up scoring >= ``suggest`` are offered below the answer ("Atau maksud Anda:").
   * ``uncertain``: best >= ``suggest`` but not clear: "Maksud Anda:" with up to three candidates as
     buttons, and no verdict label until the user picks one. Not logged.
   * ``weak``: best < ``suggest`` but some candidate scores >= ``suggest - 2 x margin``: "Maksud Anda:"
     with those candidates, saying that the question was noted for the admins. Logged as unanswered.
   * ``none``: nothing comes close: the honest "belum punya jawaban". Logged as unanswered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from faq.intents import Intent, IntentSet, load_intents
from faq.matcher import Match, Matcher, default_matcher

Band = Literal["clear", "uncertain", "weak", "none", "intent", "empty"]
LOGGED_BANDS = frozenset({"weak", "none"})
_LETTERS = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class Resolution:
    band: Band
    match: Match  # for intents: status "suggest" with the intent's entries, or "none"
    intent: Intent | None = None

    @property
    def logged(self) -> bool:
        """Whether the question belongs in the admins' unanswered list."""
        return self.band in LOGGED_BANDS

    def verdict(self, matcher: Matcher) -> str | None:
        """The verdict shown on the first line (clear band only), else None."""
        if self.band != "clear" or self.match.id is None:
            return None
        entry = matcher.kb.get(self.match.id)
        return entry.verdict if entry is not None else None


def _intent_resolution(intent: Intent, matcher: Matcher) -> Resolution:
    entries = tuple(e for e in intent.entries if e in matcher.kb.entries)
    status: Literal["suggest", "none"] = "suggest" if entries else "none"
    return Resolution("intent", Match(status, None, 0.0, entries), intent)


def resolve(text: str, matcher: Matcher | None = None, intents: IntentSet | None = None) -> Resolution:
    matcher = matcher or default_matcher()
    intents = intents if intents is not None else default_intents()
    intent = intents.before_faq(text) or intents.out_of_scope(text)
    if intent is not None:
        return _intent_resolution(intent, matcher)
    if not _LETTERS.search(matcher.normalizer.normalize(text)):
        return Resolution("empty", Match("none", None, 0.0, ()))
    match = matcher.match(intents.strip_courtesy(text))
    if match.status == "answer":
        return Resolution("clear", match)
    if match.status == "suggest":
        return Resolution("uncertain", match)
    return Resolution("weak" if match.suggestions else "none", match)


@lru_cache(maxsize=1)
def default_intents() -> IntentSet:
    """The shipped intents over the default matcher's normaliser, built once per process."""
    matcher = default_matcher()
    return load_intents(matcher.normalizer, kb=matcher.kb)
