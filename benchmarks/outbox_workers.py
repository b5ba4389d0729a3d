"""Outbox throughput with 1, 2, 4 ``python -m bot worker`` processes on PostgreSQL (JSON on stdout).

Each round: a fresh database (temp PostgreSQL server from tests/support/pg_server.py, or ``--pg-url`` of an
existing server whose user may CREATE DATABASE), N pending Telegram rows, K worker processes against ONE
fake Bot API process with limits lifted (``telegram_global_per_sec`` huge, per-chat 1000). Reported:
messages/s over the send span (first to last ``sent_at``) and over the wall time including process
start-up, duplicates seen by the fake server, losses (rows not ``sent``), per-worker share.

    .venv/bin/python -m benchmarks.outbox_workers [--messages 5000] [--workers 1,2,4] [--profile]

``--profile`` runs one extra single worker under cProfile and adds its top functions to the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from bot.app.leader import asyncpg_dsn
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from tests.app.outbox_load import (
    ROOT,
    seed_outbox,
    sent_span,
    start_workers,
    status_counts,
    stop_workers,
    wait_all_sent,
    write_config,
)
from tests.support.fakes.telegram_server import FakeTelegramProcess

SECRET = "benchmark-secret-key-0123456789-abcdefghij"


async def _create_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return url


def _round(url: str, fake: FakeTelegramProcess, workers: int, n: int, work: Path, timeout: float) -> dict[str, Any]:
    assert fake.control is not None
    fake.control.fault("reset")
    asyncio.run(seed_outbox(url, n, SECRET))
    config = write_config(work / f"w{workers}.toml", db_url=url, secret=SECRET, fake_url=fake.url, processes=workers)
    logs = work / f"logs{workers}"
    logs.mkdir(exist_ok=True)
    started = time.monotonic()
    procs = start_workers(config, workers, logs)
    try:
        counts = asyncio.run(wait_all_sent(url, n, timeout, [w.proc for w in procs]))
        wall = time.monotonic() - started
    finally:
        stop_workers(procs)
    span = asyncio.run(sent_span(url))
    final = asyncio.run(status_counts(url))
    sent_calls = fake.control.sent_messages()
    return {
        "workers": workers,
        "messages": n,
        "sent_rows": final.get("sent", 0),
        "statuses": final,
        "lost": n - final.get("sent", 0),
        "delivered_calls": len(sent_calls),
        "duplicates": len(fake.control.duplicates()),
        "send_span_s": round(span, 3),
        "msgs_per_s": round(n / span, 1) if span > 0 else None,
        "wall_s_incl_startup": round(wall, 3),
        "msgs_per_s_incl_startup": round(n / wall, 1) if wall > 0 else None,
        "per_worker_sent": [w.stats().get("n_sent") for w in procs],
        "complete": counts.get("sent", 0) == n,
    }


def _profile(url: str, fake: FakeTelegramProcess, n: int, work: Path, timeout: float) -> dict[str, Any]:
    """One worker under cProfile: where does a worker process spend its time?"""
    asyncio.run(seed_outbox(url, n, SECRET))
    config = write_config(work / "prof.toml", db_url=url, secret=SECRET, fake_url=fake.url, processes=1)
    out = work / "worker.prof"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGANETRAL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "bot", "--config", str(config), "worker"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(wait_all_sent(url, n, timeout, [proc]))
    finally:
        proc.send_signal(15)
        proc.wait(30)
    stats = pstats.Stats(str(out))
    rows = []
    for (file, line, func), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"func": f"{Path(file).name}:{line}:{func}", "calls": calls,
                     "tottime_s": round(tottime, 3), "cumtime_s": round(cumtime, 3)})
    top_self = sorted(rows, key=lambda r: r["tottime_s"], reverse=True)[:15]
    return {"messages": n, "top_self_time": top_self}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--timeout", type=float, default=300.0, help="per round")
    parser.add_argument("--pg-url", default=os.environ.get("JAGANETRAL_TEST_PG_URL"),
                        help="admin URL of an existing server (postgresql+asyncpg://…/postgres)")
    parser.add_argument("--profile", action="store_true", help="also profile one worker (cProfile)")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",") if x.strip()]

    server = None
    admin_url = args.pg_url
    if not admin_url:
        from tests.support.pg_server import TempPostgres

        server = TempPostgres()
        admin_url = str(server.start())
    results: dict[str, Any] = {"benchmark": "outbox_workers", "cpus": os.cpu_count(), "rounds": []}
    try:
        with tempfile.TemporaryDirectory() as tmp, FakeTelegramProcess() as fake:
            work = Path(tmp)
            for k in counts:
                url = asyncio.run(_create_database(admin_url, f"bench_{uuid.uuid4().hex[:10]}"))
                results["rounds"].append(_round(url, fake, k, args.messages, work, args.timeout))
                print(json.dumps(results["rounds"][-1]), file=sys.stderr)
            if args.profile:
                url = asyncio.run(_create_database(admin_url, f"bench_{uuid.uuid4().hex[:10]}"))
                results["profile_one_worker"] = _profile(url, fake, args.messages, work, args.timeout)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(results, indent=2))
    ok = all(r["complete"] and r["duplicates"] == 0 and r["lost"] == 0 for r in results["rounds"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
