"""A bare python-telegram-bot bot that only echoes each text back (long polling): the yardstick of
``benchmarks/inbound.py``. No database, no outbox, no de-duplication: what PTB itself can do.

    .venv/bin/python -m benchmarks.echo_bot --base-url http://127.0.0.1:PORT --token TOKEN [--concurrent 64]
"""

from __future__ import annotations

import argparse

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text:
        await message.reply_text(message.text)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", required=True, help="the fake server, e.g. http://127.0.0.1:8081")
    p.add_argument("--token", required=True)
    p.add_argument("--concurrent", type=int, default=1, help="PTB concurrent_updates (1: one at a time)")
    args = p.parse_args(argv)
    builder = (ApplicationBuilder().token(args.token).base_url(f"{args.base_url}/bot")
               .base_file_url(f"{args.base_url}/file/bot").connection_pool_size(256).job_queue(None))
    if args.concurrent > 1:
        builder = builder.concurrent_updates(args.concurrent)
    app = builder.build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling(poll_interval=0.0, timeout=1, allowed_updates=["message"])


if __name__ == "__main__":
    main()
