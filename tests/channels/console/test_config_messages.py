"""Walkthrough problem 32: configuration errors all at once, limits that make no sense refused, plain wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings


def errors(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "c.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    return str(err.value).splitlines()[1:]


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    lines = errors(tmp_path, 'timezone = "Mars/Olympus"\n[bawaslu_groups]\n"99.99" = -100\n"64.02" = "abc"\n')
    assert lines[0] == "  timezone: unknown time zone 'Mars/Olympus'"
    assert lines[1].startswith("  bawaslu_groups: unknown region code '99.99'")
    assert "'64.02': the group chat id must be a whole number, got 'abc'" in lines[1]


def test_nonsense_tip_limits_are_refused(tmp_path: Path) -> None:
    lines = errors(tmp_path, "[tips]\nmax_per_day = -3\nmax_text_chars = 0\n")
    assert lines == [
        "  tips.max_per_day: must be at least 1, got -3",
        "  tips.max_text_chars: must be at least 1, got 0",
    ]


def test_type_errors_are_said_plainly(tmp_path: Path) -> None:
    lines = errors(tmp_path, '[telegram]\nadmin_ids = ["abc"]\npoll_timeout = "x"\n[database]\necho = "maybe"\n')
    assert lines == [
        "  telegram.admin_ids.0: must be a whole number, got 'abc'",
        "  telegram.poll_timeout: must be a number, got 'x'",
        "  database.echo: must be true or false, got 'maybe'",
    ]
    assert not any("Input should be" in line for line in lines)


def test_group_ids_written_as_text_numbers_still_load(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[bawaslu_groups]\n"64" = "-1001000000064"\n', encoding="utf-8")
    assert load_settings(path).bawaslu_groups == {"64": -1001000000064}
