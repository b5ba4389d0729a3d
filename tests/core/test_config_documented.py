"""Every configuration key is documented in config.example.toml (as a setting or a commented example)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from bot.config import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
_SECTION = re.compile(r"^\s*\[([a-z_.]+)\]")
_KEY = re.compile(r"^\s*#?\s*\"?([a-z_0-9]+)\"?\s*=")


def documented() -> set[str]:
    """Dotted keys set or shown commented in the example file."""
    keys: set[str] = set()
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
            keys.add(section)
            continue
        m = _KEY.match(line)
        if m:
            keys.add(f"{section}.{m.group(1)}" if section else m.group(1))
    return keys


def expected() -> set[str]:
    keys: set[str] = set()
    for name, info in Settings.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys.update(f"{name}.{sub}" for sub in kind.model_fields)
        else:
            keys.add(name)
    return keys


def test_every_config_key_is_documented() -> None:
    missing = sorted(expected() - documented())
    assert missing == [], f"add these keys to config.example.toml: {missing}"


def test_the_check_finds_an_undocumented_key() -> None:
    assert "delivery.max_attempts" in documented()
    assert "delivery.no_such_key" not in documented()
    assert "delivery.tip_alert_minutes" in expected() and "delivery.alert_chat_id" in expected()
