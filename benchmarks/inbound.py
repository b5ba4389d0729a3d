"""Inbound throughput: N distinct Telegram users each asking one FAQ question at once, the rate limits lifted,
through the real ``python -m bot run`` (long polling) and the fake Bot API server (own process); and, against
the same fake server, a bare python-telegram-bot echo bot (``benchmarks/echo_bot.py``) for the ratio.

Prints JSON: per run updates handled per second (first injection to last reply), reply latency p50/p99 (inject
-> reply recorded at the fake server), the bot process's CPU time per update (handling and delivery, from
``/proc``), the load average; ``ratio_to_echo`` = our updates/s / the fastest echo run's in the same invocation.
The echo bot uses PTB's default HTTP client (httpx); the bot uses its aiohttp client (``telegram_http``).

    .venv/bin/python -m benchmarks.inbound                                  # SQLite, no latency
    .venv/bin/python -m benchmarks.inbound --db postgresql --latency 0.1,0.3
    .venv/bin/python -m benchmarks.inbound --profile /tmp/inbound.svg      # py-spy record of the bot (if installed)
    .venv/bin/python -m benchmarks.inbound --users 60 --presses --latency 0.1,0.3 --no-echo   # 60 button presses
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.crash import TOKEN
from tests.reliability.load import run_load

GOAL_RATE, GOAL_RATIO, GOAL_P99 = 300.0, 0.6, 4.0


def _latency(raw: str | None) -> tuple[float, float] | None:
    if not raw:
        return None
    low, _, high = raw.partition(",")
    return float(low), float(high or low)


def _first_entry() -> str:
    from faq.kb import load_kb

    return sorted(load_kb().entries)[0]


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    latency = _latency(args.latency)
    pg: Any = None
    runs: list[dict[str, Any]] = []
    try:
        for n, db in enumerate(args.db.split(",")):
            db_url = None
            if db == "postgresql":
                if pg is None:
                    from tests.support.pg_server import TempPostgres

                    pg = TempPostgres()
                    pg.start()
                name = f"inbound{n}"
                from tests.support.pg_server import admin_execute

                admin_execute(pg.url, f"CREATE DATABASE {name}")
                db_url = pg.url_for(name)
            profile = None
            if args.profile:
                spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
                out = Path(args.profile).with_suffix(f".{db}{Path(args.profile).suffix or '.svg'}")
                profile = [spy, "record", "-p", "{pid}", "-o", str(out), "-r", "200", "-f",
                           "speedscope" if out.suffix == ".json" else "flamegraph"]
            press = f"faq:{_first_entry()}" if args.presses else None
            r = await run_load(Path(tempfile.mkdtemp(prefix="jn-inbound-")), args.users, 1, production_limits=False,
                               db_url=db_url, timeout=args.timeout, latency=latency, log_level="INFO",
                               profile_cmd=profile, press=press)
            runs.append({"bot": "jaganetral", **r})
        for concurrent in [] if args.no_echo else args.echo_concurrent.split(","):
            echo = [sys.executable, "-m", "benchmarks.echo_bot", "--base-url", "{fake_url}", "--token", TOKEN,
                    "--concurrent", concurrent]
            r = await run_load(Path(tempfile.mkdtemp(prefix="jn-echo-")), args.users, 1, production_limits=False,
                               timeout=args.timeout, latency=latency, bot_argv=echo)
            runs.append({"bot": f"ptb-echo (concurrent_updates={concurrent})", **r})
    finally:
        if pg is not None:
            pg.stop()
    echo_rate = max((r["updates_per_sec"] for r in runs if r["bot"].startswith("ptb-echo")), default=None)
    for r in runs:
        if r["bot"] == "jaganetral":
            r["ratio_to_echo"] = round(r["updates_per_sec"] / echo_rate, 2) if echo_rate else None
            r["goals_met"] = {
                "updates_per_sec>=300": r["updates_per_sec"] >= GOAL_RATE,
                "ratio_to_echo>=0.6": None if echo_rate is None else r["ratio_to_echo"] >= GOAL_RATIO,
                "p99<=4s": r["latency_p99_s"] <= GOAL_P99,
                "all_answered": r["answered_users"] == r["users"],
            }
    return {"cpus": os.cpu_count(), "runs": runs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--db", default="sqlite", help="sqlite, postgresql (a temporary cluster) or both: sqlite,postgresql")
    p.add_argument("--latency", default=None, help="MIN,MAX seconds the fake waits before answering each call")
    p.add_argument("--no-echo", action="store_true", help="skip the echo-bot yardstick")
    p.add_argument("--presses", action="store_true",
                   help="each user presses an FAQ entry's button (callback query) instead of asking")
    p.add_argument("--echo-concurrent", default="1,64",
                   help="the echo bot's concurrent_updates, comma-separated runs (1: PTB's default, one at a time; "
                        "64: the bot's default); the ratio is to the fastest")
    p.add_argument("--profile", default=None, help="py-spy record the bot into this file (.svg or .json)")
    p.add_argument("--timeout", type=float, default=900.0)
    args = p.parse_args(argv)
    out = asyncio.run(_run(args))
    print(json.dumps(out, indent=2))
    return 0 if all(r["answered_users"] == r["users"] for r in out["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
