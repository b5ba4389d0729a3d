"""The FAQ's replies (text and buttons) to a fixed set of questions and for every KB entry, as a JSON document
(``tests/faq/golden-replies.json``), so a change that is meant to be only faster can be shown to change no
reply (``tests/faq/test_reply_identity.py``).

The committed file was written by the code before the reply path was made cheaper (main at 609d62b). Write it
anew only when a reply is *meant* to change (knowledge base, catalog texts, thresholds, intents), and then
from the code before your change to the reply path, not after it::

    .venv/bin/python -m tests.faq.golden_replies --write

Layout: ``replies`` holds each distinct reply once (``Reply.to_payload()``: text, buttons as
``[[label, data], ...]`` rows, flags), keyed by a number; ``questions`` maps a question to its reply as the
chat handler sends it (``logged=True``) and as ``python -m faq ask`` prints it (``logged=False``);
``entries`` maps each KB entry to the reply of its button (``faq:<id>``).
"""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from faq.decision import default_intents, resolve
from faq.intents import IntentSet
from faq.matcher import Matcher, default_matcher
from faq.reply import answer_reply, compose
from tests.faq.perturb import perturbed_questions, real_questions

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden-replies.json"
DEV = HERE / "dev-questions.toml"
REGRESSION = HERE / "regression-questions.toml"
PERTURBED = 400


def _texts(path: Path) -> list[str]:
    with path.open("rb") as fh:
        return [str(q["text"]) for q in tomllib.load(fh).get("q", [])]


def dev_questions() -> list[str]:
    return _texts(DEV)


def golden_questions() -> list[str]:
    """Dev, held-out, tuning-negative and regression questions, every intent phrasing and a few hundred
    perturbations (all reply bands occur among them), without repeats, in that order."""
    intents = default_intents()
    texts = [*real_questions(), *_texts(REGRESSION), *(p for i in intents.intents for p in i.phrasings),
             *perturbed_questions(PERTURBED), "", "7", "  ", "<b>x</b>"]
    return list(dict.fromkeys(texts))


def current_replies(
    questions: list[str] | None = None, matcher: Matcher | None = None, intents: IntentSet | None = None
) -> dict[str, Any]:
    """The replies the current code gives (by default the shipped KB's), in the golden file's layout."""
    matcher = matcher or default_matcher()
    intents = intents if intents is not None else default_intents()
    kb = matcher.kb
    replies: dict[str, Any] = {}
    index: dict[str, str] = {}

    def ref(payload: dict[str, Any]) -> str:
        key = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        if key not in index:
            index[key] = str(len(index))
            replies[index[key]] = payload
        return index[key]

    out_questions: dict[str, dict[str, str]] = {}
    for text in golden_questions() if questions is None else questions:
        res = resolve(text, matcher, intents)
        out_questions[text] = {
            "band": res.band,
            "handler": ref(compose(res, kb, intents, logged=True).to_payload()),
            "cli": ref(compose(res, kb, intents, logged=False).to_payload()),
        }
    entries = {ident: ref(answer_reply(ident, kb, intents).to_payload()) for ident in kb.entries}
    return {"replies": replies, "questions": out_questions, "entries": entries}


def load_golden() -> dict[str, Any]:
    with GOLDEN.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def only(golden: dict[str, Any], questions: list[str]) -> dict[str, Any]:
    """The golden document restricted to ``questions`` (and every entry)."""
    return {**golden, "questions": {q: golden["questions"][q] for q in questions}}


def differences(golden: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every question, way of asking and entry whose reply differs, or that is in one document only."""
    out: list[str] = []

    def reply(doc: dict[str, Any], key: str) -> Any:
        return doc["replies"][key]

    for kind, label in (("questions", "question"), ("entries", "entry")):
        for name in sorted(set(golden[kind]) | set(current[kind])):
            if name not in current[kind] or name not in golden[kind]:
                out.append(f"{label} {name!r} only in {'golden' if name in golden[kind] else 'current'}")
                continue
            want, got = golden[kind][name], current[kind][name]
            if kind == "questions":
                pairs = [(f" ({k})", want[k], got[k]) for k in ("handler", "cli")]
            else:
                pairs = [("", want, got)]
            for how, w, g in pairs:
                if reply(golden, w) != reply(current, g):
                    out.append(f"{label} {name!r}{how}: {reply(golden, w)!r} != {reply(current, g)!r}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help=f"write {GOLDEN.name} from the current code")
    args = parser.parse_args()
    current = current_replies()
    if args.write:
        GOLDEN.write_text(json.dumps(current, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {GOLDEN}: {len(current['questions'])} questions, {len(current['entries'])} entries, "
              f"{len(current['replies'])} distinct replies")
        return 0
    diff = differences(load_golden(), current)
    print("\n".join(diff) or "identical")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
