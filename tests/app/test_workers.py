"""Several ``python -m bot worker`` processes share one PostgreSQL outbox: every row sent exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.app.runtime import build_limiters
from bot.config import load_settings
from tests.app.conftest import PG_ONLY
from tests.app.outbox_load import (
    FIRST_CHAT,
    message_text,
    seed_outbox,
    start_workers,
    status_counts,
    stop_workers,
    wait_all_sent,
    write_config,
)
from tests.conftest import TEST_SECRET
from tests.support.fakes.telegram_server import FakeTelegramProcess

N = 2000


@PG_ONLY
def test_two_worker_processes_drain_one_outbox_exactly_once(db_url: str, tmp_path: Path) -> None:
    asyncio.run(seed_outbox(db_url, N, TEST_SECRET))
    with FakeTelegramProcess() as fake:  # limits are off by default in the fake server
        assert fake.control is not None
        config = write_config(tmp_path / "worker.toml", db_url=db_url, secret=TEST_SECRET, fake_url=fake.url,
                              processes=2)
        workers = start_workers(config, 2, tmp_path)
        try:
            counts = asyncio.run(wait_all_sent(db_url, N, 60, [w.proc for w in workers]))
        finally:
            codes = stop_workers(workers)
        sent = fake.control.sent_messages()
        duplicates = fake.control.duplicates()
    logs = "\n".join(w.log_text() for w in workers)
    assert counts == {"sent": N}, logs
    assert codes == [0, 0], logs
    assert asyncio.run(status_counts(db_url)) == {"sent": N}  # nothing left "sending" after SIGTERM
    assert duplicates == []
    delivered = Counter((int(c.chat_id), c.text) for c in sent if c.method == "sendMessage")
    assert len(sent) == N
    assert set(delivered) == {(FIRST_CHAT + i, message_text(i)) for i in range(N)}
    assert max(delivered.values()) == 1
    per_worker = [w.stats().get("n_sent", 0) for w in workers]
    assert sum(per_worker) == N, logs
    assert all(n > 0 for n in per_worker), per_worker  # both did part of the work


def _write(tmp_path: Path, url: str, processes: int) -> str:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[security]\nsecret_key = "{TEST_SECRET}"\n'
        f'[telegram]\ntoken = "1:x"\n[rate_limits]\nsender_processes = {processes}\n',
        encoding="utf-8",
    )
    return str(path)


def test_sqlite_refuses_several_sender_processes(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert main(["--config", _write(tmp_path, url, 2), "worker"]) == 2
    err = capsys.readouterr().err
    assert "rate_limits.sender_processes" in err and "PostgreSQL" in err and "single writer" in err


def test_sqlite_refuses_a_worker_process(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert main(["--config", _write(tmp_path, url, 1), "worker"]) == 2
    err = capsys.readouterr().err
    assert "worker needs PostgreSQL" in err and "single writer" in err


def test_global_rates_are_split_among_sender_processes() -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:1/x"
    one = build_limiters(load_settings(None, database={"url": url}))
    four = build_limiters(load_settings(None, database={"url": url}, rate_limits={"sender_processes": 4}))
    assert one["telegram"]._global is not None and four["telegram"]._global is not None
    assert one["telegram"]._global.count == 30 and four["telegram"]._global.count == 7
    assert four["whatsapp"]._global is not None and four["whatsapp"]._global.count == 2
    # per-chat limits cannot be split: still 1 message per second per private chat in each process
    assert four["telegram"]._private == one["telegram"]._private


def test_worker_without_schema_fails_clearly(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("asyncpg")
    url = "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none"
    assert main(["--config", _write(tmp_path, url, 2), "worker"]) == 2
    assert "database: cannot connect" in capsys.readouterr().err
