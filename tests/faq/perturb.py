"""Deterministic perturbations of real questions (typos, dropped/doubled/swapped words, case, punctuation, joined
questions) used to compare the FAQ matcher with its reference (``test_matcher_scale``, ``benchmarks.faq``)."""

from __future__ import annotations

import random
import string
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUESTION_FILES = (
    HERE / "dev-questions.toml",
    HERE / "heldout-questions.toml",
    HERE.parents[1] / "faq" / "tuning-negatives.toml",
)


def real_questions() -> list[str]:
    """Dev questions, held-out questions and tuning negatives, in file order."""
    out: list[str] = []
    for path in QUESTION_FILES:
        with path.open("rb") as fh:
            out.extend(str(q["text"]) for q in tomllib.load(fh).get("q", []))
    return out


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:  # swap two neighbours
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:  # drop a letter
        return word[:i] + word[i + 1 :]
    if kind == 2:  # double a letter
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]  # wrong letter


def perturb(text: str, rng: random.Random, others: list[str]) -> str:
    words = text.split()
    kind = rng.randrange(7)
    if kind == 0 and words:  # one or two typos
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(words))
            words[i] = _typo(words[i], rng)
    elif kind == 1 and len(words) > 1:  # drop a word
        del words[rng.randrange(len(words))]
    elif kind == 2 and words:  # keep a few words only
        words = rng.sample(words, k=min(len(words), rng.randint(1, 3)))
    elif kind == 3 and words:  # shuffle and double a word
        rng.shuffle(words)
        words.insert(rng.randrange(len(words) + 1), rng.choice(words))
    elif kind == 4:  # shouting, stretched letters, punctuation
        words = [w.upper() + rng.choice(["", "!!", "?", "..."]) for w in words]
        if words:
            i = rng.randrange(len(words))
            words[i] = words[i] + words[i][-1:] * 3
    elif kind == 5:  # two questions in one message (long: more than ten content tokens)
        words = words + rng.choice(others).split() + rng.choice(others).split()
    else:  # half of this one, half of another
        other = rng.choice(others).split()
        words = words[: len(words) // 2] + other[len(other) // 2 :]
    return " ".join(words)


def perturbed_questions(count: int, seed: int = 17) -> list[str]:
    """``count`` perturbed variants of the real questions, the same for a given seed."""
    rng = random.Random(seed)
    base = real_questions()
    return [perturb(rng.choice(base), rng, base) for _ in range(count)]
