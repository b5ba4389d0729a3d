"""Command line: ``python -m bot run|chat|worker|doctor|db upgrade``.

``run`` starts every configured channel (Telegram, WhatsApp); with no channel configured it opens the
console chat, so a fresh checkout works without any account.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

CONSOLE_LOG = Path("data") / "jaganetral.log"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="JagaNetral chatbot")
    p.add_argument("--config", help="TOML configuration file (default: $JAGANETRAL_CONFIG or config.toml if present)")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the configured channels (console chat when none is configured)")
    sub.add_parser("chat", help="chat with the bot in this terminal")
    sub.add_parser("doctor", help="check configuration, database, Telegram and Twilio")
    sub.add_parser("worker", help="sender-only process draining the shared outbox (PostgreSQL; no polling/scheduler)")
    db = sub.add_parser("db", help="database management")
    db.add_argument("action", choices=["upgrade"])
    return p


def _config_path(arg: str | None) -> str | None:
    if arg:
        return arg
    return "config.toml" if Path("config.toml").is_file() else None


async def _chat(settings: Settings) -> None:
    from bot.app.runtime import Runtime
    from bot.channels.console import ConsoleSender, run_console

    rt = Runtime.create(settings, {"console": ConsoleSender()})
    await rt.migrate()
    try:
        await run_console(rt.core.handle, rt.worker.drain)
    finally:
        await rt.stop()


async def _run(settings: Settings) -> None:
    from bot.app.serve import serve

    await serve(settings)


async def _db_upgrade(settings: Settings) -> None:
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade

    engine = create_engine(settings.database.url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("Database schema is up to date.")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(_config_path(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    cmd = args.cmd
    if cmd == "run" and not settings.telegram.enabled and not settings.whatsapp.enabled:
        print("No Telegram token or WhatsApp account configured: starting the console chat.", file=sys.stderr)
        cmd = "chat"
    if cmd == "chat":
        setup_logging(settings.log_level, CONSOLE_LOG)
    else:
        setup_logging(settings.log_level)
    try:
        if cmd == "chat":
            asyncio.run(_chat(settings))
        elif cmd == "run":
            if settings.using_dev_secret:
                print("security.secret_key: required when a real channel is configured "
                      "(at least 32 random characters; env JAGANETRAL_SECURITY__SECRET_KEY)", file=sys.stderr)
                return 2
            asyncio.run(_run(settings))
        elif cmd == "worker":
            from bot.app.worker import run_worker

            if settings.using_dev_secret:
                print("security.secret_key: required (the same key as the `run` process)", file=sys.stderr)
                return 2
            asyncio.run(run_worker(settings))
        elif cmd == "db":
            asyncio.run(_db_upgrade(settings))
        elif cmd == "doctor":
            from bot.app.doctor import run_doctor

            checks = asyncio.run(run_doctor(settings))
            for check in checks:
                print(check.line())
            return 0 if all(c.ok for c in checks) else 1
    except KeyboardInterrupt:
        pass
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
