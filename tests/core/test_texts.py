"""The string catalog against its call sites: every literal key exists and gets exactly the fields it uses.

A static check over the source (like a type check): ``t("key", a=…)`` calls with a literal key are found with
``ast`` and compared with the ``{fields}`` of the catalog text, so a renamed field or a missing key fails here
instead of as a KeyError in front of a user.
"""

from __future__ import annotations

import ast
import string
from datetime import date
from pathlib import Path

import pytest

from bot.texts import TEXTS, format_date_id, t, zone_label

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("bot", "handlers", "broadcasts", "faq") for p in (ROOT / d).rglob("*.py")]


def fields_of(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


def literal_calls() -> list[tuple[str, int, str, set[str] | None]]:
    """(file, line, key, keyword names or None when ``**kwargs`` is passed) of every ``t("literal", …)``."""
    out = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t"):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
                continue
            names: set[str] | None = {kw.arg for kw in node.keywords if kw.arg is not None}
            if any(kw.arg is None for kw in node.keywords):
                names = None
            out.append((str(path.relative_to(ROOT)), node.lineno, node.args[0].value, names))
    return out


CALLS = literal_calls()


def test_the_scan_finds_call_sites() -> None:
    assert len(CALLS) > 100  # the scanner is looking at real code, not at nothing


@pytest.mark.parametrize(("where", "key", "names"), [(f"{f}:{n}", k, a) for f, n, k, a in CALLS])
def test_each_call_site_passes_the_fields_its_text_uses(where: str, key: str, names: set[str] | None) -> None:
    assert key in TEXTS, f"{where}: unknown catalog key {key!r}"
    if names is not None:
        assert names == fields_of(TEXTS[key]), f"{where}: {key!r} takes {sorted(fields_of(TEXTS[key]))}"


def test_fields_of_reads_format_fields() -> None:
    assert fields_of("{a} dan {b.c} {{literal}} {d[0]}") == {"a", "b", "d"}


def test_dates_and_zones_come_from_the_catalog() -> None:
    assert format_date_id(date(2024, 2, 14)) == "14 Februari 2024"
    assert t("date.range", start="1", end="2") == "1 s.d. 2"
    assert [zone_label(z) for z in ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "UTC")] == [
        "WIB", "WITA", "WIT", "UTC"
    ]
