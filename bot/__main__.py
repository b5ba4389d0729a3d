"""Command line: ``python -m bot run|chat|worker|doctor|db upgrade``.

``run`` starts every configured channel (Telegram, WhatsApp); with no channel configured it opens the
console chat, so a fresh checkout works without any account.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from bot.app.startup import StartupError
from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

CONSOLE_LOG = Path("data") / "jaganetral.log"


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before and after the subcommand (``--config F run`` and ``run --config F``).
    # SUPPRESS: a subcommand without it must not overwrite the value given before the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS,
        help="TOML configuration file (default: $JAGANETRAL_CONFIG or config.toml if present)",
    )
    p = argparse.ArgumentParser(prog="python -m bot", description="JagaNetral chatbot", parents=[common])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", parents=[common], help="run the configured channels (console chat when none is configured)")
    sub.add_parser("chat", parents=[common], help="chat with the bot in this terminal")
    sub.add_parser("doctor", parents=[common], help="check configuration, database, Telegram and Twilio")
    sub.add_parser("worker", parents=[common],
                   help="sender-only process draining the shared outbox (PostgreSQL; no polling/scheduler)")
    db = sub.add_parser("db", parents=[common], help="database management")
    db.add_argument("action", choices=["upgrade"])
    return p


def _config_path(arg: str | None) -> str | None:
    if arg:
        return arg
    if os.environ.get("JAGANETRAL_CONFIG"):
        return os.environ["JAGANETRAL_CONFIG"]
    return "config.toml" if Path("config.toml").is_file() else None


async def _chat(settings: Settings, *, config_file: bool) -> None:
    from bot.app.chat import run_chat

    await run_chat(settings, config_file=config_file)


async def _run(settings: Settings) -> None:
    from bot.app.serve import serve

    await serve(settings)


async def _db_upgrade(settings: Settings) -> None:
    from bot.app.startup import database_error
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade

    engine = create_engine(settings.database.url)
    try:
        await upgrade(engine)
    except Exception as exc:
        raise database_error(settings, exc) from None
    finally:
        await engine.dispose()
    print("Database schema is up to date.")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config_path = _config_path(getattr(args, "config", None))
    try:
        settings = load_settings(config_path)
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
            asyncio.run(_chat(settings, config_file=config_path is not None))
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
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
