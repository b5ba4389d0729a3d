"""FAQ reply benchmark: the CPU of the FAQ handler per text update, in process, without the database or a
channel: from the update's text reaching ``handlers.faq.free_text`` to the reply (text and buttons) handed to
``Context.reply``. That is the decision (intents, courtesy, matcher), the "faq match" log line (through the
bot's JSON formatter, to the null device) and the reply's text and buttons.

Usage: ``python -m benchmarks.faq_reply [--rounds 20] [--profile]``. Prints JSON.

Every question of ``tests/faq/dev-questions.toml`` is asked once per round, in file order, as a separate
update (a fresh ``Context``, built outside the timed call); one warm-up round first (stems and typo mappings
cached, like a running bot).
Questions the handler would store as unanswered (weak and none bands) do not reach the database here:
``_remember_unanswered`` is replaced by a no-op, so only the FAQ work is timed.

``cpu`` is ``time.process_time`` per update (CPU of this process only; others on a shared machine still
inflate it through caches and cores); ``cpu_best_of_rounds`` takes per question the least CPU over the
rounds, the figure least disturbed by neighbours. ``parts`` times the steps alone on the same questions:
``resolve`` (decision), ``compose`` (reply from a resolution), ``log`` (the log line).
``--profile``: run the handler loop under cProfile and add the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import time
import tomllib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import json  # noqa: E402

from benchmarks.stats import latency_stats  # noqa: E402
from bot.core.context import Context, FlowState  # noqa: E402
from bot.core.model import Incoming  # noqa: E402
from bot.logs import JsonFormatter  # noqa: E402
from faq.decision import default_intents, resolve  # noqa: E402
from faq.matcher import default_matcher  # noqa: E402
from faq.reply import compose  # noqa: E402
from handlers import faq as faq_handler  # noqa: E402

QUESTIONS = ROOT / "tests/faq/dev-questions.toml"


def dev_questions() -> list[str]:
    with QUESTIONS.open("rb") as fh:
        return [q["text"] for q in tomllib.load(fh)["q"]]


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Drive a coroutine that never suspends (nothing here awaits I/O) without an event loop's overhead."""
    try:
        coro.send(None)
    except StopIteration:
        return
    raise RuntimeError("the FAQ handler suspended: the benchmark expects no I/O")


async def _not_stored(ctx: Context, question: str) -> None:
    """Stands in for ``_remember_unanswered``: the database write is not the FAQ path measured here."""


def _context(text: str) -> Context:
    incoming = Incoming(channel="telegram", chat_id="1", user_id="1", text=text)
    # session and services are never touched on this path (the unanswered write is replaced above)
    return Context(incoming, cast(Any, None), FlowState(), cast(Any, None), datetime.now(UTC))


def time_each(
    texts: list[str], rounds: int, call: Callable[[Any], object], prepare: Callable[[str], Any] = lambda t: t
) -> dict[str, Any]:
    """CPU per ``call(prepare(text))``; ``prepare`` (building the update's context) is not timed."""
    for text in texts:  # warm-up round
        call(prepare(text))
    cpu: list[float] = []
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            arg = prepare(text)
            c0 = time.process_time()
            call(arg)
            ms = (time.process_time() - c0) * 1000
            cpu.append(ms)
            best[i] = min(best[i], ms)
    return {
        "calls": len(cpu),
        "cpu_us_per_question": round(sum(cpu) / len(cpu) * 1000, 1),
        "cpu": latency_stats(cpu),
        "cpu_best_of_rounds": latency_stats(best),
    }


def handler_call(ctx: Context) -> None:
    _run(faq_handler.free_text(ctx))
    if len(ctx.replies) != 1:
        raise RuntimeError(f"expected one reply to {ctx.incoming.text!r}, got {ctx.replies!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--profile", action="store_true", help="add a cProfile of the handler loop")
    args = parser.parse_args()

    # the bot's log setup (JSON lines at INFO), written to the null device
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (closed at the end)
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    faq_handler._remember_unanswered = _not_stored

    texts = dev_questions()
    t0 = time.perf_counter()
    intents = default_intents()  # what bot.app.runtime.preload builds before serving
    preload_s = time.perf_counter() - t0
    matcher = default_matcher()
    kb = matcher.kb
    resolutions = {text: resolve(text) for text in texts}
    log = logging.getLogger("handlers.faq")

    def log_line(text: str) -> None:
        res = resolutions[text]
        log.info("faq match", extra={"band": res.band, "intent": res.intent.id if res.intent else None,
                                     "entry": res.match.id, "score": round(res.match.score, 2)})

    result: dict[str, Any] = {
        "questions": len(texts),
        "rounds": args.rounds,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "preload_s": round(preload_s, 3),
        "bands": {b: sum(1 for r in resolutions.values() if r.band == b) for b in
                  sorted({r.band for r in resolutions.values()})},
        "handler": time_each(texts, args.rounds, handler_call, _context),
        "parts": {
            "resolve": time_each(texts, args.rounds, resolve),
            "compose": time_each(texts, args.rounds, lambda text: compose(resolutions[text], kb, intents)),
            "log": time_each(texts, args.rounds, log_line),
        },
    }
    if args.profile:
        prof = cProfile.Profile()
        contexts = [_context(text) for _ in range(args.rounds) for text in texts]
        prof.enable()
        for ctx in contexts:
            handler_call(ctx)
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
        result["profile_top_tottime"] = out.getvalue().splitlines()
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    sink.close()
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
