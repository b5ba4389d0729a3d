"""The command line as an operator meets it (real processes): ``--config`` before or after the subcommand,
``scripts/run.sh --config``, one clear line (no traceback) for each start-up failure, polling that retries,
Ctrl-C, and ``doctor`` on a console-only setup."""

from __future__ import annotations

import itertools
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.texts import t
from tests.channels.console.helpers import ProcessConsole, bot_command, clean_env, fresh_checkout
from tests.conftest import TEST_SECRET
from tests.support.fakes.telegram_server import FakeTelegramServer, make_message

TOKEN = "123456:RIGHT-TOKEN"
SUBCOMMANDS = [["run"], ["chat"], ["doctor"], ["worker"], ["db", "upgrade"]]


def run_bot(args: list[str], cwd: Path, *, timeout: float = 60, **kw: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(bot_command(*args), cwd=cwd, env=clean_env(**kw), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def write_config(path: Path, body: str, db: Path | str) -> Path:
    url = db if isinstance(db, str) else f"sqlite+aiosqlite:///{db}"
    path.write_text(f'[database]\nurl = "{url}"\n{body}', encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line(stderr: str) -> str:
    """The operator-facing lines of stderr (JSON log lines left out); there must be exactly one."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("{")]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegramServer]:
    server = FakeTelegramServer(token=TOKEN).start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


# --- --config ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sub", SUBCOMMANDS, ids=lambda s: "-".join(s))
def test_config_is_accepted_before_and_after_every_subcommand(sub: list[str], tmp_path: Path) -> None:
    missing = str(tmp_path / "tidak-ada.toml")
    for args in (["--config", missing, *sub], [*sub, "--config", missing]):
        proc = run_bot(args, tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == f"Configuration file not found: {missing}"


def test_config_after_the_subcommand_is_the_one_used(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", f'[security]\nsecret_key = "{TEST_SECRET}"\n', tmp_path / "c.db")
    assert run_bot(["db", "upgrade", "--config", str(cfg)], tmp_path).returncode == 0
    doctor = run_bot(["doctor", "--config", str(cfg)], tmp_path)
    assert "[OK  ] database: reachable" in doctor.stdout and "[OK  ] security.secret_key: set" in doctor.stdout
    assert (tmp_path / "c.db").is_file() and not (tmp_path / "data").exists()  # not the default database


def test_run_sh_passes_config_to_bot_run(tmp_path: Path) -> None:
    repo = fresh_checkout(tmp_path / "repo")
    env = clean_env(JAGANETRAL_SKIP_SETUP="1")
    missing = str(tmp_path / "typo.toml")
    proc = subprocess.run(["bash", "scripts/run.sh", "--config", missing], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stderr.strip() == f"Configuration file not found: {missing}"
    cfg = write_config(tmp_path / "console.toml", "", tmp_path / "console.db")  # no token: the console chat
    chat = ProcessConsole(["bash", "scripts/run.sh", "--config", str(cfg)], cwd=repo, env=env)
    try:
        chat.wait_for(r"\[bawaslu_groups\]")  # this config has no groups: said at start
        chat.say("::keluar", t("console.bye"))
        assert chat.proc.wait(30) == 0
    finally:
        chat.close()
    assert (tmp_path / "console.db").is_file()


# --- start-up failures ------------------------------------------------------------------------------

def test_telegram_unreachable_is_one_line(tmp_path: Path) -> None:
    port = closed_port()
    cfg = write_config(tmp_path / "c.toml", f'[security]\nsecret_key = "{TEST_SECRET}"\n[telegram]\n'
                       f'token = "{TOKEN}"\nbase_url = "http://127.0.0.1:{port}/bot"\n', tmp_path / "c.db")
    proc = run_bot(["run", "--config", str(cfg)], tmp_path)
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert re.match(rf"Cannot reach Telegram at http://127\.0\.0\.1:{port}/bot \((NetworkError|ConnectionLost)\)", line)
    assert TOKEN not in line


def test_rejected_token_is_one_line_without_the_token(fake_tg: FakeTelegramServer, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", f'[security]\nsecret_key = "{TEST_SECRET}"\n[telegram]\n'
                       f'token = "654321:WRONG-TOKEN"\nbase_url = "{fake_tg.base_url}"\n', tmp_path / "c.db")
    proc = run_bot(["run", "--config", str(cfg)], tmp_path)
    assert proc.returncode == 1
    assert one_line(proc.stderr).startswith("Telegram rejected the bot token (telegram.token")
    assert "WRONG-TOKEN" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("cmd", ["run", "chat", "db upgrade"])
def test_unreachable_database_is_one_line_without_the_password(cmd: str, tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://jn:rahasia-sekali@127.0.0.1:{closed_port()}/jaganetral"
    cfg = write_config(tmp_path / "c.toml", f'[security]\nsecret_key = "{TEST_SECRET}"\n[telegram]\n'
                       f'token = "{TOKEN}"\nbase_url = "http://127.0.0.1:1/bot"\n' if cmd == "run" else "", url)
    proc = run_bot([*cmd.split(), "--config", str(cfg)], tmp_path)
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("Database unreachable (postgresql+asyncpg://jn:***@127.0.0.1:"), line
    assert "rahasia-sekali" not in proc.stderr + proc.stdout


def test_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg = write_config(
            tmp_path / "c.toml",
            f'[security]\nsecret_key = "{TEST_SECRET}"\n[web]\nhost = "127.0.0.1"\nport = {port}\n'
            f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "http://127.0.0.1:1/bot"\nmode = "webhook"\n'
            'webhook_url = "https://bot.example.go.id/telegram"\nwebhook_secret = "rahasia"\n',
            tmp_path / "c.db",
        )
        proc = run_bot(["run", "--config", str(cfg)], tmp_path)
    assert proc.returncode == 1
    assert one_line(proc.stderr) == (
        f"Web server: port {port} on 127.0.0.1 is already in use. Stop the other program or set web.port "
        "(JAGANETRAL_WEB__PORT)."
    )


def test_polling_retries_with_backoff_while_running(fake_tg: FakeTelegramServer, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", f'[security]\nsecret_key = "{TEST_SECRET}"\n[telegram]\n'
                       f'token = "{TOKEN}"\nbase_url = "{fake_tg.base_url}"\n'
                       f'base_file_url = "{fake_tg.base_file_url}"\npoll_timeout = 1\n', tmp_path / "c.db")
    fake_tg.fail_next(3, 502, methods=["getUpdates"])
    bot = ProcessConsole(bot_command("run", "--config", str(cfg)), cwd=tmp_path, env=clean_env())
    try:
        fake_tg.wait_for_sync(lambda c: c.method == "getUpdates" and c.status == 200, timeout=60,
                              include_failed=True)
        fake_tg.inject_update(make_message(777, 777, "/start"))
        fake_tg.wait_for_sync(lambda c: c.method == "sendMessage" and c.chat_id == 777, timeout=30)
        failed = [c.timestamp for c in fake_tg.calls_of("getUpdates") if c.status == 502]
        assert len(failed) == 3
        gaps = [b - a for a, b in itertools.pairwise(failed)]
        assert gaps[0] >= 0.9 and gaps[1] > gaps[0]  # 1 s, then 1.5 s: a growing pause
        bot.proc.send_signal(signal.SIGTERM)
        assert bot.proc.wait(30) == 0
    finally:
        bot.close()
    assert "Traceback" not in bot.stderr
    assert bot.stderr.count("telegram polling failed; retrying") == 3


# --- Ctrl-C and doctor ------------------------------------------------------------------------------

def test_ctrl_c_while_waiting_for_input_ends_the_console_at_once(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", "", tmp_path / "c.db")
    chat = ProcessConsole(bot_command("chat", "--config", str(cfg)), cwd=tmp_path, env=clean_env())
    try:
        chat.say("/start", r"Halo! Saya JagaNetral[\s\S]*anda> ")
        chat.proc.send_signal(signal.SIGINT)  # stdin stays open: the console is waiting for a line
        assert chat.proc.wait(5) == 0
        chat.wait_for(t("console.bye"))
    finally:
        chat.close()
    assert "Traceback" not in chat.stderr and "KeyboardInterrupt" not in chat.stderr


def test_doctor_warns_but_passes_on_a_console_only_setup(tmp_path: Path) -> None:
    assert run_bot(["db", "upgrade"], tmp_path).returncode == 0  # the default database, data/jaganetral.db
    proc = run_bot(["doctor"], tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "[WARN] security.secret_key: not set: fine for the console chat" in proc.stdout
    assert "[WARN] telegram: not configured" in proc.stdout and "[FAIL]" not in proc.stdout
