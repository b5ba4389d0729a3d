"""``python -m bot doctor`` against the fake Bot API and real / unreachable databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from tests.conftest import TEST_SECRET
from tests.support.fakes.telegram_server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:RIGHT-TOKEN"


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegramServer]:
    server = FakeTelegramServer(token=TOKEN).start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


def _config(tmp_path: Path, db_url: str, server: FakeTelegramServer, token: str = TOKEN) -> str:
    path = tmp_path / "doctor.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[security]\nsecret_key = "{TEST_SECRET}"\n'
        f'[telegram]\ntoken = "{token}"\nbase_url = "{server.base_url}"\nbase_file_url = "{server.base_file_url}"\n'
        "admin_ids = [4242]\n",
        encoding="utf-8",
    )
    return str(path)


def test_doctor_cli_all_ok(db_url: str, fake_tg: FakeTelegramServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGANETRAL_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", _config(tmp_path, db_url, fake_tg), "doctor"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "[OK  ] telegram: bot @jaganetral_test_bot" in lines
    assert any(line.startswith("[OK  ] database: reachable, schema at ") for line in lines)
    assert not any(line.startswith("[FAIL]") for line in lines)
    assert {c.method for c in fake_tg.calls} == {"getMe"}  # read-only: nothing sent, no webhook changed


def test_doctor_wrong_token_fails(db_url: str, fake_tg: FakeTelegramServer, tmp_path: Path, capsys: Any) -> None:
    assert main(["--config", _config(tmp_path, db_url, fake_tg, token="123456:WRONG"), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] telegram: the token was rejected (telegram.token)" in out
    assert "[OK  ] database" in out


def test_doctor_unreachable_database_fails(fake_tg: FakeTelegramServer, tmp_path: Path, capsys: Any) -> None:
    url = "postgresql+asyncpg://jn:secret@127.0.0.1:1/jaganetral"
    assert main(["--config", _config(tmp_path, url, fake_tg), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] database: cannot connect" in out
    assert "secret" not in out.replace("security.secret_key", "")  # the password is not echoed
    assert "[OK  ] telegram: bot @jaganetral_test_bot" in out
