"""FAQ load: N distinct Telegram users each asking one or a few questions, all injected at once into the
fake Bot API server (own process); the bot is the real ``python -m bot run`` subprocess (long polling).

Latency of a question = time its reply was recorded at the fake server - time it was injected (both
``time.monotonic()`` = CLOCK_MONOTONIC, shared by the processes of one machine). Shared by
``tests/reliability/test_load.py`` and ``benchmarks/load_faq.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

from tests.reliability import anon
from tests.reliability.crash import BotProcess, make_dir, write_config
from tests.support.fakes.telegram_server import FakeTelegramProcess, make_callback, make_message

# The FAQ's regression questions, in the repository (never an absolute path or ../shared).
QUESTIONS_FILE = Path(__file__).resolve().parents[1] / "faq" / "dev-questions.toml"


def questions() -> list[str]:
    data = tomllib.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))
    found = [str(q["text"]) for q in data.get("q", []) if q.get("text")]
    if not found:
        raise ValueError(f"{QUESTIONS_FILE}: no questions")
    return found


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc/PID/stat``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_profiler(cmd: list[str], pid: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([a.format(pid=pid) for a in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run_load(workdir: Path, users: int = 1000, per_user: int = 1, *, production_limits: bool = True,
                   db_url: str | None = None, timeout: float = 300.0, enforce: bool = False,
                   latency: tuple[float, float] | None = None, log_level: str | None = None,
                   bot_argv: list[str] | None = None, profile_cmd: list[str] | None = None,
                   press: str | None = None) -> dict[str, Any]:
    """``enforce``: the fake server answers 429 (with retry_after) to any send over Telegram's limits, counted
    over exact sliding windows of its own clock (30/s global, 1/s per chat).

    ``latency`` (min, max seconds): the fake answers every call but getUpdates after a random time in that
    range. ``log_level`` overrides the config's. ``bot_argv``: run this command instead of ``python -m bot``
    (``{config}`` and ``{fake_url}`` are filled in; the echo bot of ``benchmarks/inbound.py``).
    ``profile_cmd``: a profiler attached to the bot once it polls (``{pid}`` filled in), stopped by SIGINT
    after the last reply. The result includes the bot process's CPU time from injection to the last reply.
    ``press``: each user presses a button with this callback data instead of asking a question."""
    make_dir(workdir)
    db_url = db_url or f"sqlite+aiosqlite:///{workdir / 'load.db'}"
    qs = questions()
    fake = FakeTelegramProcess().start()
    assert fake.control is not None
    control = fake.control
    if enforce:
        control.fault("enforce_limits", global_per_sec=30, per_chat_per_sec=1, per_group_per_min=20, burst=0)
    rate = 30.0 if production_limits else 100000.0
    config = write_config(workdir / "config.toml", db_url, fake.url, rate)
    if production_limits:  # the shipped defaults: 30/s global, 1/s per private chat, 20/min per group
        text = config.read_text(encoding="utf-8").replace("telegram_per_chat_per_sec = 1000",
                                                           "telegram_per_chat_per_sec = 1")
        config.write_text(text.replace('log_level = "DEBUG"', 'log_level = "INFO"'), encoding="utf-8")
    if log_level is not None:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace('log_level = "DEBUG"', f'log_level = "{log_level}"'), encoding="utf-8")
    if latency is not None:
        control.fault("set_latency", seconds=latency[0], max_seconds=latency[1])
    bot = BotProcess(config, workdir / "bot.log", argv=[a.format(config=config, fake_url=fake.url)
                                                       for a in bot_argv] if bot_argv else None)
    profiler: subprocess.Popen[bytes] | None = None
    ids = [anon.REPORTER_ID_BASE + i for i in range(users)]
    try:
        bot.start()
        deadline = time.monotonic() + 60
        while not any(c.method == "getUpdates" for c in control.calls()):  # the bot is polling
            if time.monotonic() > deadline or not bot.alive:
                raise RuntimeError("bot did not start:\n" + (workdir / "bot.log").read_text()[-2000:])
            await asyncio.sleep(0.2)
        assert bot.proc is not None
        if profile_cmd:
            profiler = _start_profiler(profile_cmd, bot.proc.pid)
            await asyncio.sleep(1.0)
        mark = len(control.calls())
        if press is not None:
            updates = [make_callback(uid, uid, press) for _k in range(per_user) for uid in ids]
        else:
            updates = [make_message(uid, uid, qs[(uid + k * 7) % len(qs)], username=anon.USERNAME,
                                    first_name=anon.FIRST_NAME, last_name=anon.LAST_NAME)
                       for k in range(per_user) for uid in ids]
        cpu_before = process_cpu_seconds(bot.proc.pid)
        injected_at = time.monotonic()
        control.inject_updates(updates)
        expected = users * per_user
        replies: dict[int, list[float]] = {}
        seen = mark
        deadline = time.monotonic() + timeout
        while sum(len(v) for v in replies.values()) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            batch = await asyncio.to_thread(control.calls, seen)
            seen += len(batch)
            for c in batch:
                if c.ok and c.method == "sendMessage" and isinstance(c.chat_id, int) and c.chat_id in set(ids):
                    replies.setdefault(c.chat_id, []).append(c.timestamp)
        cpu_used = process_cpu_seconds(bot.proc.pid) - cpu_before  # up to 0.5 s of idle polling after the last
        stats = control.stats()
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        bot.stop()
        fake.stop()
    times = sorted(t for v in replies.values() for t in v)
    lat = [t - injected_at for t in times]
    span = (times[-1] - injected_at) if times else float("nan")
    return {
        "users": users, "questions_per_user": per_user, "updates": users * per_user,
        "kind": f"button {press}" if press is not None else "faq question",
        "rate_limits": "production (30/s global, 1/s per chat)" if production_limits else "lifted",
        "database": db_url.split(":", 1)[0], "cpus": os.cpu_count(),
        "answered_users": sum(1 for uid in ids if replies.get(uid)),
        "replies": len(times),
        "seconds_to_last_reply": round(span, 2),
        "updates_per_sec": round(len(times) / span, 1) if times else 0.0,
        "latency_p50_s": round(percentile(lat, 50), 2), "latency_p90_s": round(percentile(lat, 90), 2),
        "latency_p99_s": round(percentile(lat, 99), 2), "latency_max_s": round(max(lat, default=float("nan")), 2),
        "bot_cpu_ms_per_update": round(1000 * cpu_used / max(1, len(times)), 2),
        "fake_latency_s": list(latency) if latency else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "fake_enforces_limits": enforce,
        "fake_max_global_per_sec": stats.get("max_global_per_sec"), "fake_429": stats.get("rate_limited_429"),
    }
