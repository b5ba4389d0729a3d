"""Configuration: example file loads, bad config gives one clear message naming the key."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.toml"


def _keys(model: type, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        ann = field.annotation
        if isinstance(ann, type) and hasattr(ann, "model_fields"):
            out |= _keys(ann, f"{prefix}{name}.")
        else:
            out.add(f"{prefix}{name}")
    return out


def test_example_config_loads_with_defaults() -> None:
    s = load_settings(EXAMPLE)
    assert s.timezone == "Asia/Makassar"
    assert not s.telegram.enabled
    assert s.is_sqlite


def test_every_setting_is_documented_in_the_example() -> None:
    text = EXAMPLE.read_text()
    missing = []
    for key in sorted(_keys(Settings)):
        leaf = key.rsplit(".", 1)[-1]
        section = key.split(".")[0] if "." in key else None
        if (section and f"[{section}]" not in text) or (f"{leaf} =" not in text and f"[{key}]" not in text):
            missing.append(key)
    assert missing == []


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(body)
    return p


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('timezone = "Mars/Olympus"', "timezone: unknown time zone"),
        ("[telegram]\ntokn = 'x'", "telegram.tokn: unknown key"),
        ("[rate_limits]\ntelegram_global_per_sec = 0", "rate_limits.telegram_global_per_sec: must be greater than 0"),
        ("[database]\nurl = 'mysql://x'", "database.url: must start with"),
        ("[security]\nsecret_key = 'short'", "security.secret_key: must be at least 32 characters"),
        ("[telegram]\nmode = 'webhook'", "telegram.mode = 'webhook' needs telegram.webhook_url"),
        ("[bawaslu_groups]\n'99.99' = -100", "bawaslu_groups: Value error, unknown region code"),
        ("[telegram]\nadmin_ids = ['abc']", "telegram.admin_ids.0"),
        ("this is not toml", "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, body))
    assert needle.replace("Value error, ", "") in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAGANETRAL_TELEGRAM__TOKEN", "123:fromenv")
    monkeypatch.setenv("JAGANETRAL_TELEGRAM__ADMIN_IDS", "[5, 6]")
    s = load_settings(write(tmp_path, "[telegram]\ntoken = '1:fromfile'\nadmin_ids = [1]"))
    assert s.telegram.token is not None and s.telegram.token.get_secret_value() == "123:fromenv"
    assert s.telegram.admin_ids == [5, 6]


def test_cli_prints_clear_error_without_traceback(tmp_path: Path) -> None:
    cfg = write(tmp_path, "[telegram]\nmode = 'sideways'")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg), "run"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2
    assert "telegram.mode: must be 'polling' or 'webhook'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_example_is_valid_toml() -> None:
    assert "telegram" in tomllib.loads(EXAMPLE.read_text())
