"""Structured logging (one JSON object per line) that never carries personal data.

Handlers log pseudonyms (``identity.short``) and counts only. As a second line of defence the
formatter drops well-known identifying attributes should a library attach them.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

_STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_FORBIDDEN = {"user", "username", "first_name", "last_name", "phone", "from_user", "chat", "update"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STD and key not in _FORBIDDEN and not key.startswith("_"):
                data[key] = value if isinstance(value, (int, float, str, bool, type(None))) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", file: Path | None = None) -> None:
    handler: logging.Handler
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request URLs contain the bot token; PTB internals are noisy at INFO.
    noisy_loggers = ("httpx", "httpcore", "telegram", "apscheduler", "aiosqlite", "alembic", "PIL", "asyncio")
    for noisy in (*noisy_loggers, "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
