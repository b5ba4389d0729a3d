"""Bad configuration from the environment, through the command line's entry point (``python -m bot``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from tests.channels.console.helpers import bot_command, clean_env


def _refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, body: str) -> str:
    """``doctor`` with the config file ``body`` (no JAGANETRAL_ variables): exit 2 without a traceback; its stderr."""
    for name in [k for k in os.environ if k.startswith("JAGANETRAL_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "c.toml"
    config.write_text(body, encoding="utf-8")
    assert main(["doctor", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return str(err)


@pytest.mark.parametrize(("var", "value", "wanted"), [
    ("JAGANETRAL_TELEGRAM__ADMIN_IDS", "[1,", "JAGANETRAL_TELEGRAM__ADMIN_IDS: must be JSON"),
    ("JAGANETRAL_TELEGRAM__ADMIN_IDS", "111, 222", "JAGANETRAL_TELEGRAM__ADMIN_IDS: must be JSON"),
    ("JAGANETRAL_BAWASLU_GROUPS", '{"64": -100}x', "JAGANETRAL_BAWASLU_GROUPS: must be JSON"),
    ("JAGANETRAL_WHATSAPP__TEMPLATES", "reminder=HX1", "JAGANETRAL_WHATSAPP__TEMPLATES: must be JSON"),
    ("JAGANETRAL_TELEGRAM", '{"token": "123:SECRET"', "JAGANETRAL_TELEGRAM: must be JSON"),
])
def test_an_environment_value_that_is_not_json_is_named_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, var: str, value: str, wanted: str
) -> None:
    """A list or table given in the environment must be JSON; a value that is not raised pydantic-settings'
    SettingsError, which escaped ``main`` as a traceback naming neither the variable nor what was wrong."""
    for name in [k for k in os.environ if k.startswith("JAGANETRAL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(var, value)
    config = tmp_path / "c.toml"
    config.write_text("", encoding="utf-8")
    assert main(["doctor", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert wanted in err
    if "__" in var or var == "JAGANETRAL_BAWASLU_GROUPS":
        assert repr(value) in err
    else:  # a whole section may hold secrets: its value is not repeated
        assert "SECRET" not in err
    assert "Traceback" not in err


def test_the_process_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("", encoding="utf-8")
    done = subprocess.run(bot_command("doctor", "--config", str(config)), cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=clean_env(JAGANETRAL_TELEGRAM__ADMIN_IDS="111,222"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "JAGANETRAL_TELEGRAM__ADMIN_IDS: must be JSON" in done.stderr


@pytest.mark.parametrize(("body", "wanted"), [
    # a group id copied without its minus sign is a person's private chat: tips would go to that person
    ('[bawaslu_groups]\n"64" = 1001000000064\n',
     "bawaslu_groups: '64': a group chat id is negative (e.g. -1001000000064), got 1001000000064"),
    ('[bawaslu_groups]\n"default" = "0"\n', "bawaslu_groups: 'default': a group chat id is negative"),
    # an admin is a person: a group id there never matches anyone who types an admin command
    ("[telegram]\nadmin_ids = [11111111, -1001000000001]\n",
     "telegram.admin_ids.1: a Telegram user id is a positive whole number, got -1001000000001"),
    ("[telegram]\nadmin_ids = [0]\n", "telegram.admin_ids.0: a Telegram user id is a positive whole number"),
])
def test_ids_of_the_wrong_kind_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, body: str, wanted: str
) -> None:
    """A Bawaslu group id must be a group's (negative) and an admin id a person's (positive); either of the
    other kind was accepted without a word."""
    assert wanted in _refused(tmp_path, monkeypatch, capsys, body)


@pytest.mark.parametrize(("body", "wanted"), [
    # without "whatsapp:" the Twilio client sends an SMS from that number (or fails every message)
    ('[whatsapp]\nsender = "+14155238886"\n',
     "whatsapp.sender: must be \"whatsapp:\" and the number in international format, e.g. "
     "\"whatsapp:+14155238886\", got '+14155238886'"),
    ('[whatsapp]\nsender = "whatsapp:14155238886"\n', "whatsapp.sender: must be \"whatsapp:\""),
    # Twilio gives the sender as whatsapp:+62...: a local number never matches
    ('[whatsapp]\nadmin_numbers = ["whatsapp:+6281234567890", "081234567890"]\n',
     "whatsapp.admin_numbers.1: must be the number in international format"),
])
def test_whatsapp_numbers_in_the_wrong_form_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, body: str, wanted: str
) -> None:
    assert wanted in _refused(tmp_path, monkeypatch, capsys, body)


@pytest.mark.parametrize(("body", "wanted"), [
    # Telegram refuses both at setWebhook, and the start then said "Cannot reach Telegram ... check the network"
    ('[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.id/telegram"\nwebhook_secret = "has space!"\n',
     "telegram.webhook_secret: must be 1-256 characters A-Z, a-z, 0-9, _ or - (Telegram's rule)"),
    ('[telegram]\nmode = "webhook"\nwebhook_url = "http://bot.example.id/telegram"\nwebhook_secret = "abc"\n',
     "telegram.webhook_url: must be an https:// URL (Telegram sends webhooks over HTTPS only), got "
     "'http://bot.example.id/telegram'"),
])
def test_webhook_settings_telegram_would_refuse_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, body: str, wanted: str
) -> None:
    err = _refused(tmp_path, monkeypatch, capsys, body)
    assert wanted in err
    assert "has space" not in err  # the secret is not repeated


@pytest.mark.parametrize(("url", "wanted"), [
    ("postgresql+asyncpg://jn:SANDI@127.0.0.1:notaport/jaganetral", "database.url: not a valid database URL"),
    ("postgresql+asyncpg://jn:SANDI@[::1/jaganetral", "database.url: not a valid database URL"),
    # libpq's name; asyncpg's connect() refuses it with a TypeError at every start
    ("postgresql+asyncpg://jn:SANDI@127.0.0.1:5432/jaganetral?sslmode=require",
     "database.url: asyncpg takes ssl=require, not sslmode=require"),
])
def test_a_database_url_that_cannot_be_used_is_named_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, url: str, wanted: str
) -> None:
    """A URL SQLAlchemy cannot parse (a port that is not a number) passed the prefix check and ended every
    command in a ValueError traceback from sqlalchemy's make_url."""
    err = _refused(tmp_path, monkeypatch, capsys, f'[database]\nurl = "{url}"\n')
    assert wanted in err
    assert "SANDI" not in err  # the password is not repeated


@pytest.mark.parametrize(("body", "wanted"), [
    # APScheduler refused it when the scheduler started: a TypeError traceback from `chat` and `run`
    ("[scheduler]\nmisfire_grace_minutes = -5\n", "scheduler.misfire_grace_minutes: must be at least 1, got -5"),
    ("[scheduler]\nmisfire_grace_minutes = 0\n", "scheduler.misfire_grace_minutes: must be at least 1, got 0"),
    # a standby retrying the leader lock without pause, and getUpdates without long polling: busy loops
    ("[scheduler]\nleader_retry_seconds = 0\n", "scheduler.leader_retry_seconds: must be greater than 0, got 0"),
    ("[telegram]\npoll_timeout = -1\n", "telegram.poll_timeout: must be at least 0, got -1"),
])
def test_timings_that_cannot_work_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, body: str, wanted: str
) -> None:
    assert wanted in _refused(tmp_path, monkeypatch, capsys, body)
