"""FAQ load: N distinct Telegram users asking at once through the fake Bot API server; prints JSON with
updates handled per second and reply latency percentiles (inject → reply recorded at the fake server).

Runs twice by default: with the shipped rate limits (30 messages/s global, 1/s per chat — what production
does; the fake server then also ENFORCES Telegram's limits with 429 + retry_after, so any overshoot is
counted) and with the limits lifted (what the update processing itself can do).

    .venv/bin/python -m benchmarks.load_faq                     # 1,000 users, 1 question each
    .venv/bin/python -m benchmarks.load_faq --users 1000 --per-user 3 --only lifted
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.load import run_load


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--per-user", type=int, default=1)
    p.add_argument("--only", choices=["production", "lifted"], default=None)
    p.add_argument("--db-url", default=None, help="default: a new SQLite file per run")
    args = p.parse_args(argv)
    modes = [args.only] if args.only else ["production", "lifted"]
    out = []
    for mode in modes:
        workdir = Path(tempfile.mkdtemp(prefix="jn-load-"))
        out.append(asyncio.run(run_load(workdir, args.users, args.per_user, production_limits=mode == "production",
                                        db_url=args.db_url, timeout=900, enforce=mode == "production")))
    print(json.dumps(out, indent=2))
    return 0 if all(r["answered_users"] == r["users"] for r in out) else 1


if __name__ == "__main__":
    sys.exit(main())
