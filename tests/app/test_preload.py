"""Start-up builds what the first update would otherwise build (``bot.app.runtime.preload``): after it, the
first FAQ answer builds no matcher, intents or reply parts of its own."""

from __future__ import annotations

from bot.app.runtime import preload
from faq.decision import default_intents, resolve
from faq.matcher import default_matcher
from faq.reply import answer_reply, reply_parts


def test_after_preload_the_first_answer_builds_nothing() -> None:
    builders = (default_matcher, default_intents, reply_parts)
    for built in builders:  # as in a fresh process (other tests may have built them already)
        built.cache_clear()
    preload()
    before = [f.cache_info().misses for f in builders]
    res = resolve("Bolehkah PNS menjadi tim sukses calon?")
    assert res.match.id is not None
    answer_reply(res.match.id, default_matcher().kb, default_intents())
    assert [f.cache_info().misses for f in builders] == before
