"""Knowledge base: loading and validating ``faq/kb/*.toml``.

Each file holds ``[[entry]]`` tables (one per topic) with: id, title, verdict, questions, answer,
legal_basis, sources, reviewed, and optional keywords and related. Problems are reported as
:class:`KBError` naming the file and the entry, so a non-programmer editing the TOML can find the mistake.

``legal_basis`` is the sentence shown to the user ("Dasar hukum: ..."). ``sources`` is the same basis in
checkable form: a list of ``{ ref = "PP 94/2021 Pasal 5 huruf n", url = "https://..." }`` tables (``url``
optional; only links to official texts) or plain strings. ``reviewed`` is the date (TOML date or
``"YYYY-MM-DD"``) of the last legal review of the entry.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

KB_DIR = Path(__file__).with_name("kb")
VERDICTS = ("boleh", "tidak", "bersyarat", "info")
_REQUIRED_TEXT = ("id", "title", "verdict", "answer", "legal_basis")
_KNOWN_KEYS = frozenset(_REQUIRED_TEXT) | {"questions", "keywords", "related", "sources", "reviewed"}
_SOURCE_KEYS = frozenset({"ref", "url"})
MAX_ID_BYTES = 60  # an entry's button carries "faq:<id>" (Telegram's callback data: at most 64 bytes)


class KBError(ValueError):
    """The knowledge base data is invalid; the message names the file and entry."""


@dataclass(frozen=True)
class Source:
    """One regulation (with article) behind an answer, and optionally a link to its official text."""

    ref: str
    url: str | None = None


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    questions: tuple[str, ...]
    verdict: str
    answer: str
    legal_basis: str
    related: tuple[str, ...]
    keywords: tuple[str, ...] = field(default=(), compare=False)
    source: str = field(default="", compare=False)
    sources: tuple[Source, ...] = field(default=(), compare=False)
    reviewed: dt.date | None = field(default=None, compare=False)


class KnowledgeBase:
    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries

    def get(self, id: str) -> Entry | None:
        return self.entries.get(id)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())


def _str_list(raw: dict, key: str, where: str, required: bool) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise KBError(f"{where}: '{key}' must be a list of non-empty strings")
    if required and not value:
        raise KBError(f"{where}: '{key}' must contain at least one question")
    return tuple(v.strip() for v in value)


def _sources(raw: dict, where: str) -> tuple[Source, ...]:
    value = raw.get("sources")
    if not isinstance(value, list) or not value:
        raise KBError(f"{where}: 'sources' must be a non-empty list of regulation references")
    out: list[Source] = []
    for n, item in enumerate(value, start=1):
        if isinstance(item, str) and item.strip():
            out.append(Source(ref=item.strip()))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("ref"), str) or not item["ref"].strip():
            raise KBError(f"{where}: source #{n} must be a string or a table with a non-empty 'ref'")
        unknown = set(item) - _SOURCE_KEYS
        if unknown:
            raise KBError(f"{where}: source #{n}: unknown field(s) {', '.join(sorted(unknown))}")
        url = item.get("url")
        if url is not None and (not isinstance(url, str) or not url.startswith("https://")):
            raise KBError(f"{where}: source #{n}: 'url' must start with https://")
        out.append(Source(ref=item["ref"].strip(), url=url))
    return tuple(out)


def _reviewed(raw: dict, where: str) -> dt.date:
    value = raw.get("reviewed")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise KBError(f"{where}: missing or invalid 'reviewed' (a date such as 2026-12-01)")


def _parse_entry(raw: object, fname: str, index: int) -> Entry:
    if not isinstance(raw, dict):
        raise KBError(f"{fname}: entry #{index} is not a table")
    ident = raw.get("id")
    where = f"{fname}: entry '{ident}'" if isinstance(ident, str) and ident else f"{fname}: entry #{index}"
    unknown = set(raw) - _KNOWN_KEYS
    if unknown:
        raise KBError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for key in _REQUIRED_TEXT:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise KBError(f"{where}: missing or empty '{key}'")
    ident = raw["id"].strip()
    if ":" in ident or len(ident.split()) != 1 or len(ident.encode()) > MAX_ID_BYTES:
        raise KBError(f"{where}: 'id' must be one word without ':' of at most {MAX_ID_BYTES} bytes (buttons send it)")
    verdict = raw["verdict"].strip()
    if verdict not in VERDICTS:
        raise KBError(f"{where}: bad verdict '{verdict}' (allowed: {', '.join(VERDICTS)})")
    return Entry(
        id=ident,
        title=raw["title"].strip(),
        questions=_str_list(raw, "questions", where, required=True),
        verdict=verdict,
        answer=raw["answer"].strip(),
        legal_basis=raw["legal_basis"].strip(),
        related=_str_list(raw, "related", where, required=False),
        keywords=_str_list(raw, "keywords", where, required=False),
        source=fname,
        sources=_sources(raw, where),
        reviewed=_reviewed(raw, where),
    )


def load_kb(path: Path | None = None) -> KnowledgeBase:
    """Load a KB directory (all ``*.toml`` files) or a single TOML file; validate it."""
    path = Path(path) if path is not None else KB_DIR
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    if not files:
        raise KBError(f"{path}: no .toml files found")
    entries: dict[str, Entry] = {}
    for file in files:
        try:
            with file.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise KBError(f"{file.name}: invalid TOML: {exc}") from exc
        raw_entries = data.get("entry", [])
        if not isinstance(raw_entries, list):
            raise KBError(f"{file.name}: 'entry' must be an array of tables ([[entry]])")
        for i, raw in enumerate(raw_entries, start=1):
            entry = _parse_entry(raw, file.name, i)
            if entry.id in entries:
                raise KBError(
                    f"{file.name}: entry '{entry.id}': duplicate id (already defined in {entries[entry.id].source})"
                )
            entries[entry.id] = entry
    for entry in entries.values():
        for rel in entry.related:
            if rel == entry.id:
                raise KBError(f"{entry.source}: entry '{entry.id}': related lists itself")
            if rel not in entries:
                raise KBError(f"{entry.source}: entry '{entry.id}': unknown related id '{rel}'")
    return KnowledgeBase(entries)
