"""Crash-safety figures: the ``kill -9`` scenario of ``tests/reliability/crash.py``, printed as JSON.

The real bot (``python -m bot run``) is SIGKILLed at random moments while reporters submit tips through the
fake Telegram server (own process) and a broadcast is being sent; it is restarted at once each time.

    .venv/bin/python -m benchmarks.reliability                          # 20 tips, 300 recipients, 3 kills
    .venv/bin/python -m benchmarks.reliability --tips 200 --recipients 5000 --kills 10 --rate 60  # issue's numbers
    .venv/bin/python -m benchmarks.reliability --db-url postgresql+asyncpg://...          # an empty database
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.crash import CrashConfig, bot_errors, run_scenario


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tips", type=int, default=20)
    p.add_argument("--recipients", type=int, default=300)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--rate", type=float, default=40.0, help="broadcast messages per second (default 40)")
    p.add_argument("--kill-after", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                   help="seconds between a (re)start and the next kill (default 1.5 4; 4 12 with --kills > 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--db-url", default=None, help="default: a new SQLite file in a temporary directory")
    p.add_argument("--workdir", default=None, help="keep the bot log, config and database here")
    args = p.parse_args(argv)
    cfg = CrashConfig(tips=args.tips, recipients=args.recipients, kills=args.kills, broadcast_rate=args.rate,
                      seed=args.seed, timeout=args.timeout, retry_seconds=20.0 if args.tips > 50 else 6.0,
                      kill_window=tuple(args.kill_after or ((4.0, 12.0) if args.kills > 3 else (1.5, 4.0))))
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="jn-reliability-"))
    result = asyncio.run(run_scenario(workdir, args.db_url, cfg)).to_json()
    result["bot_error_log_lines"] = len(bot_errors(workdir))
    ok = (result["tip_group_lost"] == 0 and result["tip_group_duplicates"] <= result["recovered_resent"]
          and result["broadcast_duplicates"] == 0 and result["lost_without_unknown_row"] == 0
          and not result["anonymity_findings"])
    result["verdict"] = "ok" if ok else "FAILED"
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
