"""JagaNetral FAQ: knowledge base (TOML data), Indonesian normalisation, matcher, rendering."""

from faq.kb import Entry, KBError, KnowledgeBase, load_kb
from faq.matcher import Match, Matcher, Thresholds, default_matcher, load_thresholds
from faq.normalize import normalize
from faq.render import render_answer, render_suggestions

__all__ = [
    "Entry",
    "KBError",
    "KnowledgeBase",
    "Match",
    "Matcher",
    "Thresholds",
    "default_matcher",
    "load_kb",
    "load_thresholds",
    "normalize",
    "render_answer",
    "render_suggestions",
]
