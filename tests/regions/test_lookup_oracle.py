"""``bot.regions.resolve`` gives exactly what the implementation it replaced gives.

``reference_regions.reference_resolve`` is that implementation, kept as an oracle. The optimised lookup skips
the fuzzy scoring of keys whose score provably stays below the cutoff; these tests compare the two on every
region name, short name and alias, on two typo variants of every key (with and without kind prefixes), on
codes and garbage, and on hypothesis-made strings, for several limits, with ``==`` (same regions, same order).
``_fuzzy_hits`` is also compared directly with ``process.extract`` over all keys (same keys, scores and order), and
the shortcuts it takes for partial ratios (the short-needle rule and its index) with rapidfuzz's partial ratio.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, process

from bot import regions
from tests.regions.reference_regions import reference_resolve
from tests.regions.region_queries import all_queries, exact_queries, odd_queries, typo_queries


def _mismatches(texts: list[str], limit: int = 5) -> list[tuple[str, list[str], list[str]]]:
    out = []
    for text in texts:
        regions._resolve_cached.cache_clear()
        got = [r.code for r in regions.resolve(text, limit)]
        want = [r.code for r in reference_resolve(text, limit)]
        if got != want:
            out.append((text, got, want))
    return out


def test_query_sets_are_broad() -> None:
    data = regions._data()
    assert len(exact_queries()) > 5 * len(data.regions)
    typos = typo_queries()
    assert len(typos) == 2 * len(data.choice_keys)
    # most typo queries really go through the fuzzy search
    keys = set(data.names) | set(data.aliases)
    fuzzy = sum(1 for t in typos if regions._split_kind(regions._normalize(t))[1] not in keys)
    assert fuzzy > 0.9 * len(typos)


def test_exact_names_and_aliases_match_reference() -> None:
    assert _mismatches(exact_queries()) == []


@pytest.mark.parametrize("limit", [1, 5, 8])
def test_typos_match_reference(limit: int) -> None:
    assert _mismatches(typo_queries(), limit) == []


def test_codes_garbage_and_odd_text_match_reference() -> None:
    assert _mismatches(odd_queries()) == []
    assert _mismatches(odd_queries(), limit=1) == []


def test_fuzzy_hits_equal_extract_over_all_keys() -> None:
    data = regions._data()
    checked = 0
    for core in (c for c in _cores() if len(c) >= 3):
        scorer = fuzz.ratio if len(core) <= 3 else fuzz.WRatio
        want = process.extract(core, data.choice_keys, scorer=scorer, score_cutoff=regions._FUZZY_CUTOFF, limit=40)
        assert regions._fuzzy_hits(data, core) == want, core
        checked += 1
    assert checked > 2000


def _cores() -> list[str]:
    return sorted({regions._split_kind(regions._normalize(t))[1] for t in all_queries()} - {""})


def test_score_bound_is_never_below_the_score() -> None:
    """Soundness of the pre-filter: for every key (without a repeated word) the bound is at least the real score,
    so no key that reaches the cutoff is left out, whatever the limit."""
    data = regions._data()
    plain = ~data.choice_repeats
    checked = 0
    for core in _cores():
        if len(core) < 3:
            continue
        scorer, bound = regions._score_bounds(data, core)
        scores = process.cdist([core], data.choice_keys, scorer=scorer, dtype=np.float64)[0]
        over = np.flatnonzero(plain & (scores > bound + 1e-6))
        assert not len(over), (core, [(data.choice_keys[i], scores[i], bound[i]) for i in over[:5]])
        _scorer, index = regions._fuzzy_candidates(data, core)
        assert set(np.flatnonzero(scores >= regions._FUZZY_CUTOFF).tolist()) <= set(index), core
        checked += 1
    assert checked > 2000


_CUTOFFS = [regions._PARTIAL_NEEDED, regions._PARTIAL_TOKEN_NEEDED]


@pytest.mark.parametrize("cutoff", _CUTOFFS)
def test_short_needle_rule_gives_the_partial_ratio_on_the_keys(cutoff: float) -> None:
    """Where ``_window_rule`` applies, ``_KeyTable.holding`` says exactly which keys (at least 1.5 times longer)
    have a partial ratio with the text reaching the cutoff: over every query core, on the keys and on the keys
    with their words sorted."""
    data = regions._data()
    checked = 0
    for core in _cores():
        ends = regions._window_rule(len(core), cutoff)
        if ends is None or len(core) < 4:
            continue
        for table in (data.key_table, data.sorted_table):
            longer = np.flatnonzero(data.choice_len >= 1.5 * len(core))
            scores = process.cdist([core], table.array[longer].tolist(), scorer=fuzz.partial_ratio)[0]
            got = table.holding(core, ends)[longer]
            assert got.tolist() == (scores >= cutoff).tolist(), core
            checked += int(got.sum())
    assert checked > 100


def test_short_needle_rule_applies_to_short_needles_only() -> None:
    needed, token_needed = _CUTOFFS
    # a partial ratio of 86.67 leaves a needle of up to 7 characters no slack, one of 91.23 up to 11
    assert [regions._window_rule(n, needed) for n in range(4, 9)] == [False, True, True, True, None]
    assert [regions._window_rule(n, token_needed) for n in range(4, 13)] == [False] * 3 + [True] * 5 + [None]


def _near_copies(needle: str, data: st.DataObject) -> str:
    """The needle with up to two characters left out, added or changed, with text around it."""
    text = list(needle)
    for _ in range(data.draw(st.integers(0, 2))):
        at = data.draw(st.integers(0, len(text)))
        edit = data.draw(st.sampled_from(["drop", "add", "change"]))
        if edit == "add" or not text:
            text.insert(at, data.draw(st.sampled_from("abnt ")))
        elif at < len(text):
            if edit == "drop":
                del text[at]
            else:
                text[at] = data.draw(st.sampled_from("abnt "))
    before = data.draw(st.text(alphabet="abnt ", max_size=8))
    after = data.draw(st.text(alphabet="abnt ", max_size=8))
    return before + "".join(text) + after


@settings(max_examples=300, deadline=None)
@given(needle=st.text(alphabet="abnt", min_size=4, max_size=11), data=st.data())
def test_short_needle_rule_gives_the_partial_ratio(needle: str, data: st.DataObject) -> None:
    """The same on made-up strings full of near copies of the needle (where rapidfuzz's windows matter)."""
    hays = [_near_copies(needle, data) for _ in range(12)]
    hays = [h for h in hays if len(h) >= 1.5 * len(needle)]
    if not hays:
        return
    table = regions._KeyTable(hays)
    for cutoff in _CUTOFFS:
        ends = regions._window_rule(len(needle), cutoff)
        if ends is None:
            continue
        want = [fuzz.partial_ratio(needle, h) >= cutoff for h in hays]
        assert table.holding(needle, ends).tolist() == want, (needle, cutoff)


def test_fuzzy_search_scores_few_keys() -> None:
    """The point of the bound: a typical typo is scored against a few dozen keys, not all of them."""
    data = regions._data()
    for core in ["samarnda", "balikpapn", "kutai timr", "tenggarong", "jogjakarta", "sulawesi selatn"]:
        _scorer, index = regions._fuzzy_candidates(data, core)
        assert 0 < len(index) < len(data.choice_keys) // 10, (core, len(index))
    sizes = sorted(len(regions._fuzzy_candidates(data, regions._normalize(t))[1]) for t in typo_queries()[:400])
    assert sizes[len(sizes) // 2] < len(data.choice_keys) // 10


_letters = st.text(alphabet="abcdefghijklmnoprstuwy -.", min_size=0, max_size=40)
_names = st.sampled_from(sorted(regions._data().choice_keys))


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(_letters, st.builds(lambda a, b: a + " " + b, _names, _letters), _names.map(lambda k: k[1:])))
def test_generated_text_matches_reference(text: str) -> None:
    assert _mismatches([text]) == []
