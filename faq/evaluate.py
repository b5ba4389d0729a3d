"""Evaluation metrics and threshold tuning on labelled question files.

Question files use the format of ``tests/faq/dev-questions.toml``: ``[[q]]`` tables with ``text`` and
``topic`` (entry id; ``""`` = out of scope, must not be answered).

Tuning procedure (``python -m faq tune FILE``), deterministic:

1. Rank every question once (the ranking does not depend on thresholds).
2. Grid over ``answer`` in 0.20..0.90 and ``margin`` in ``MIN_MARGIN``..0.30 (step 0.01; the floor means a
   near-tie is never answered confidently). A pair is feasible when wrong confident answers <=
   ``MAX_WRONG`` of in-scope questions and out-of-scope questions answered <= ``1 - MIN_OOS`` of
   out-of-scope questions. Utility = correct - 3 * (wrong + out-of-scope answered), since a wrong
   confident answer costs more than a suggestion list. Among the pairs with the best utility take the
   centre of that plateau (median ``answer``, then median ``margin`` among pairs with that ``answer``)
   so the choice is not on the edge of the tuning data.
3. With those fixed, grid ``suggest`` in 0.10..answer: maximise (right entry among answer+suggestions)
   + 0.25 * (share of out-of-scope questions that get "none"), ties -> median.
"""

from __future__ import annotations

import statistics
import tomllib
from dataclasses import dataclass
from pathlib import Path

from faq.decision import resolve
from faq.intents import IntentSet
from faq.matcher import Match, Matcher, Thresholds

MAX_WRONG = 0.02
MIN_OOS = 0.95
MIN_MARGIN = 0.02


@dataclass(frozen=True)
class Question:
    text: str
    topic: str  # "" = out of scope


def load_questions(path: Path) -> list[Question]:
    with Path(path).open("rb") as fh:
        raw = tomllib.load(fh)
    return [Question(str(q["text"]), str(q.get("topic", ""))) for q in raw.get("q", [])]


def metrics(questions: list[Question], matches: list[Match]) -> dict[str, float | int]:
    inscope = [(q, m) for q, m in zip(questions, matches, strict=True) if q.topic]
    oos = [(q, m) for q, m in zip(questions, matches, strict=True) if not q.topic]
    correct = sum(1 for q, m in inscope if m.status == "answer" and m.id == q.topic)
    wrong = sum(1 for q, m in inscope if m.status == "answer" and m.id != q.topic)
    hit = sum(1 for q, m in inscope if m.status != "none" and (m.id == q.topic or q.topic in m.suggestions))
    oos_not_answered = sum(1 for _, m in oos if m.status != "answer")
    oos_none = sum(1 for _, m in oos if m.status == "none")
    n_in, n_oos = len(inscope), len(oos)

    def rate(x: int, n: int, empty: float = 1.0) -> float:
        return round(x / n, 4) if n else empty

    return {
        "questions": len(questions),
        "in_scope": n_in,
        "out_of_scope": n_oos,
        "correct_answer_rate": rate(correct, n_in),
        "wrong_answer_rate": rate(wrong, n_in, empty=0.0),
        "hit_rate": rate(hit, n_in),
        "oos_not_answered_rate": rate(oos_not_answered, n_oos),
        "oos_none_rate": rate(oos_none, n_oos),
        "correct": correct,
        "wrong": wrong,
        "hit": hit,
        "oos_not_answered": oos_not_answered,
    }


def evaluate(
    matcher: Matcher, questions: list[Question], with_failures: bool = False, intents: IntentSet | None = None
) -> dict:
    """Metrics of the matcher alone, or (``intents`` given) of what the chat does (:func:`faq.decision.resolve`):
    a greeting or out-of-scope intent counts as "none", the lapor intent as suggesting its entries."""
    if intents is None:
        matches = [matcher.match(q.text) for q in questions]
        intent_ids: list[str | None] = [None] * len(questions)
    else:
        resolved = [resolve(q.text, matcher, intents) for q in questions]
        matches = [r.match for r in resolved]
        intent_ids = [r.intent.id if r.intent is not None else None for r in resolved]
    result: dict = metrics(questions, matches)
    if with_failures:
        result["failures"] = [
            {"text": q.text, "topic": q.topic, "status": m.status, "id": m.id, "suggestions": list(m.suggestions)}
            | ({"intent": i} if i else {})
            for q, m, i in zip(questions, matches, intent_ids, strict=True)
            if (q.topic and not (m.status == "answer" and m.id == q.topic)) or (not q.topic and m.status != "none")
        ]
    return result


def _grid(start: float, stop: float, step: float = 0.01) -> list[float]:
    n = round((stop - start) / step)
    return [round(start + i * step, 2) for i in range(n + 1)]


def tune(matcher: Matcher, questions: list[Question]) -> tuple[Thresholds, dict]:
    ranked = [matcher.rank(q.text) for q in questions]
    n_in = sum(1 for q in questions if q.topic) or 1
    n_oos = sum(1 for q in questions if not q.topic)
    best_correct = -(10**9)
    plateau: list[tuple[float, float]] = []
    for answer in _grid(0.20, 0.90):
        for margin in _grid(MIN_MARGIN, 0.30):
            th = Thresholds(answer=answer, margin=margin, suggest=0.0)
            ms = [matcher.decide(r, th) for r in ranked]
            m = metrics(questions, ms)
            if m["wrong"] > MAX_WRONG * n_in or (n_oos and m["oos_not_answered"] < MIN_OOS * n_oos):
                continue
            utility = int(m["correct"]) - 3 * (int(m["wrong"]) + n_oos - int(m["oos_not_answered"]))
            if utility > best_correct:
                best_correct, plateau = utility, [(answer, margin)]
            elif utility == best_correct:
                plateau.append((answer, margin))
    if not plateau:
        raise ValueError("no threshold pair meets the wrong-answer and out-of-scope limits")
    answers = sorted({a for a, _ in plateau})
    answer = answers[(len(answers) - 1) // 2]
    margin = statistics.median_low(sorted(m for a, m in plateau if a == answer))
    best_obj, sug_plateau = -1.0, []
    for suggest in _grid(0.10, answer):
        th = Thresholds(answer=answer, margin=margin, suggest=suggest)
        m = metrics(questions, [matcher.decide(r, th) for r in ranked])
        obj = round(float(m["hit_rate"]) + 0.25 * float(m["oos_none_rate"] if n_oos else 0.0), 6)
        if obj > best_obj:
            best_obj, sug_plateau = obj, [suggest]
        elif obj == best_obj:
            sug_plateau.append(suggest)
    suggest = sug_plateau[(len(sug_plateau) - 1) // 2]
    chosen = Thresholds(answer=answer, margin=margin, suggest=suggest)
    final = metrics(questions, [matcher.decide(r, chosen) for r in ranked])
    return chosen, final


def write_thresholds(th: Thresholds, path: Path, source: str, result: dict) -> None:
    text = (
        "# Written by `python -m faq tune` (procedure: faq/evaluate.py docstring). Do not hand-edit;\n"
        "# re-run the tuner after changing the KB, slang data or scoring.\n"
        f"# Tuned on: {source}\n"
        f"# Result on that file: correct {result['correct_answer_rate']}, wrong {result['wrong_answer_rate']}, "
        f"hit {result['hit_rate']}, out-of-scope not answered {result['oos_not_answered_rate']}\n"
        "[thresholds]\n"
        f"answer = {th.answer}\n"
        f"margin = {th.margin}\n"
        f"suggest = {th.suggest}\n"
    )
    Path(path).write_text(text, encoding="utf-8")
