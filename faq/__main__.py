"""CLI: ``python -m faq ask "question"``, ``ask --json -``, ``eval FILE``, ``tune FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.channels.console import render
from faq.decision import Resolution, default_intents, resolve
from faq.evaluate import evaluate, load_questions, tune, write_thresholds
from faq.intents import load_intents
from faq.kb import load_kb
from faq.matcher import THRESHOLDS_PATH, Matcher, default_matcher
from faq.reply import compose


def _match_json(res: Resolution, matcher: Matcher) -> str:
    m = res.match
    return json.dumps(
        {
            "status": m.status,
            "id": m.id,
            "score": m.score,
            "suggestions": list(m.suggestions),
            "verdict": res.verdict(matcher),
            "intent": res.intent.id if res.intent is not None else None,
            "band": res.band,
        },
        ensure_ascii=False,
    )


def _cmd_ask(args: argparse.Namespace) -> int:
    matcher = default_matcher()
    intents = default_intents()
    questions = [line.strip() for line in sys.stdin] if args.question == ["-"] else [" ".join(args.question)]
    for q in questions:
        if not q and args.question == ["-"]:
            continue
        res = resolve(q, matcher, intents)
        # the text is the reply as the console shows it; the CLI stores nothing, so it never says "dicatat"
        out = _match_json(res, matcher) if args.json else render(compose(res, matcher.kb, intents, logged=False))
        print(out, flush=True)
        if not args.json and len(questions) > 1:
            print()
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    matcher = default_matcher() if args.kb is None else Matcher(load_kb(args.kb))
    intents = None if args.no_intents else load_intents(matcher.normalizer, kb=matcher.kb)
    result = evaluate(matcher, load_questions(args.file), with_failures=args.failures, intents=intents)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    matcher = Matcher(load_kb(args.kb))
    questions = [q for f in args.files for q in load_questions(f)]
    chosen, result = tune(matcher, questions)
    out = Path(args.out)
    write_thresholds(chosen, out, " + ".join(Path(f).name for f in args.files), result)
    print(json.dumps({"thresholds": chosen.__dict__, "result": result, "written": str(out)}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faq", description="JagaNetral FAQ tools")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ask = sub.add_parser("ask", help="answer a question (or '-' to read one per line from stdin)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("question", nargs="+")
    ask.set_defaults(func=_cmd_ask)
    ev = sub.add_parser("eval", help="metrics on a labelled question file (JSON)")
    ev.add_argument("file", type=Path)
    ev.add_argument("--kb", type=Path, default=None)
    ev.add_argument("--failures", action="store_true", help="also list the questions that were missed")
    ev.add_argument("--no-intents", action="store_true", help="the knowledge-base matcher alone (no intents)")
    ev.set_defaults(func=_cmd_eval)
    tu = sub.add_parser("tune", help="grid-search thresholds on labelled file(s) and write them")
    tu.add_argument("files", type=Path, nargs="+")
    tu.add_argument("--kb", type=Path, default=None)
    tu.add_argument("--out", type=Path, default=THRESHOLDS_PATH)
    tu.set_defaults(func=_cmd_tune)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
